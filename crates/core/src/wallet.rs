//! Crypto-asset wallet addresses, checked to their checksums:
//! - Bitcoin legacy addresses: base58check (double SHA-256), version 0x00 (P2PKH) or 0x05
//!   (P2SH) on mainnet, 0x6f or 0xc4 on testnet, 20-byte payload;
//! - Bitcoin segwit addresses: bech32 (BIP 173) for witness version 0 and bech32m
//!   (BIP 350) for versions 1 to 16, human-readable part `bc` or `tb`;
//! - Ethereum addresses: `0x` and 40 hex digits; mixed case must carry a valid EIP-55
//!   checksum (all-lowercase and all-uppercase carry none).
//!
//! The normal form keeps Bitcoin base58 as written (it is case-sensitive), lowercases
//! bech32, and lowercases Ethereum addresses so that the same address written with and
//! without its checksum is one observable.

use sha2::{Digest, Sha256};
use sha3::Keccak256;

/// The normal form of a wallet address, or `None` when it is none or its checksum fails.
pub(crate) fn normalise(value: &str) -> Option<String> {
    if let Some(hex) = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        return ethereum(hex);
    }
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("bc1") || lower.starts_with("tb1") {
        return segwit(value).then_some(lower);
    }
    base58check(value).then(|| value.to_owned())
}

fn ethereum(hex: &str) -> Option<String> {
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    let mixed = hex != lower && hex != hex.to_ascii_uppercase();
    if mixed && eip55(&lower) != hex {
        return None;
    }
    Some(format!("0x{lower}"))
}

/// EIP-55: a hex letter is upper case where the matching nibble of keccak256(lowercase
/// address) is 8 or more.
pub(crate) fn eip55(lower_hex: &str) -> String {
    let hash = Keccak256::digest(lower_hex.as_bytes());
    lower_hex
        .chars()
        .enumerate()
        .map(|(index, c)| {
            let byte = hash[index / 2];
            let nibble = if index % 2 == 0 {
                byte >> 4
            } else {
                byte & 0x0f
            };
            if c.is_ascii_alphabetic() && nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn base58_decode(text: &str) -> Option<Vec<u8>> {
    let mut bytes: Vec<u8> = Vec::new();
    for c in text.bytes() {
        let mut carry = BASE58.iter().position(|&d| d == c)? as u32;
        for byte in bytes.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    let mut out = vec![0; zeros];
    out.extend(bytes);
    Some(out)
}

fn base58check(text: &str) -> bool {
    if !(25..=35).contains(&text.len()) {
        return false;
    }
    let Some(bytes) = base58_decode(text) else {
        return false;
    };
    if bytes.len() != 25 || !matches!(bytes[0], 0x00 | 0x05 | 0x6f | 0xc4) {
        return false;
    }
    let (payload, checksum) = bytes.split_at(21);
    Sha256::digest(Sha256::digest(payload))[..4] == *checksum
}

const BECH32_CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32_CONST: u32 = 1;
const BECH32M_CONST: u32 = 0x2bc8_30a3;

fn polymod(values: &[u8]) -> u32 {
    const GENERATOR: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut checksum: u32 = 1;
    for value in values {
        let top = checksum >> 25;
        checksum = ((checksum & 0x01ff_ffff) << 5) ^ u32::from(*value);
        for (bit, generator) in GENERATOR.iter().enumerate() {
            if (top >> bit) & 1 == 1 {
                checksum ^= generator;
            }
        }
    }
    checksum
}

fn hrp_expand(hrp: &str) -> Vec<u8> {
    let mut out: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
    out.push(0);
    out.extend(hrp.bytes().map(|b| b & 31));
    out
}

/// Regroups bits; `None` when padding is invalid (as BIP 173 requires of decoders).
fn convert_bits(data: &[u8], from: u32, to: u32, pad: bool) -> Option<Vec<u8>> {
    let mut accumulator: u32 = 0;
    let mut bits: u32 = 0;
    let mut out = Vec::new();
    let max = (1u32 << to) - 1;
    for value in data {
        accumulator = (accumulator << from) | u32::from(*value);
        bits += from;
        while bits >= to {
            bits -= to;
            out.push(((accumulator >> bits) & max) as u8);
        }
    }
    if pad {
        if bits > 0 {
            out.push(((accumulator << (to - bits)) & max) as u8);
        }
    } else if bits >= from || ((accumulator << (to - bits)) & max) != 0 {
        return None;
    }
    Some(out)
}

/// A segwit address: bech32 for witness version 0, bech32m for 1 to 16 (BIP 173, 350).
fn segwit(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if (text != lower && text != text.to_ascii_uppercase()) || !(14..=90).contains(&text.len()) {
        return false;
    }
    let Some((hrp, data)) = lower.rsplit_once('1') else {
        return false;
    };
    if !matches!(hrp, "bc" | "tb") || data.len() < 7 {
        return false;
    }
    let Some(values) = data
        .bytes()
        .map(|c| BECH32_CHARSET.iter().position(|&d| d == c).map(|v| v as u8))
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut checked = hrp_expand(hrp);
    checked.extend(&values);
    let constant = polymod(&checked);
    let (payload, _) = values.split_at(values.len() - 6);
    let Some((&version, program)) = payload.split_first() else {
        return false;
    };
    let expected = if version == 0 {
        BECH32_CONST
    } else {
        BECH32M_CONST
    };
    if version > 16 || constant != expected {
        return false;
    }
    let Some(program) = convert_bits(program, 5, 8, false) else {
        return false;
    };
    (2..=40).contains(&program.len()) && (version != 0 || matches!(program.len(), 20 | 32))
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Encodes a segwit address (for tests: the hub only decodes).
    pub(crate) fn encode_segwit(hrp: &str, version: u8, program: &[u8]) -> String {
        let mut data = vec![version];
        data.extend(convert_bits(program, 8, 5, true).unwrap());
        let mut checked = hrp_expand(hrp);
        checked.extend(&data);
        checked.extend([0; 6]);
        let constant = if version == 0 {
            BECH32_CONST
        } else {
            BECH32M_CONST
        };
        let modulus = polymod(&checked) ^ constant;
        for index in 0..6 {
            data.push(((modulus >> (5 * (5 - index))) & 31) as u8);
        }
        let body: String = data
            .iter()
            .map(|v| char::from(BECH32_CHARSET[usize::from(*v)]))
            .collect();
        format!("{hrp}1{body}")
    }

    /// Encodes base58check (for tests).
    pub(crate) fn encode_base58check(version: u8, payload: &[u8; 20]) -> String {
        let mut bytes = vec![version];
        bytes.extend(payload);
        let checksum = Sha256::digest(Sha256::digest(&bytes));
        bytes.extend(&checksum[..4]);
        let zeros = bytes.iter().take_while(|&&b| b == 0).count();
        let mut digits: Vec<u8> = Vec::new();
        for byte in &bytes {
            let mut carry = u32::from(*byte);
            for digit in digits.iter_mut() {
                carry += u32::from(*digit) << 8;
                *digit = (carry % 58) as u8;
                carry /= 58;
            }
            while carry > 0 {
                digits.push((carry % 58) as u8);
                carry /= 58;
            }
        }
        let mut text = "1".repeat(zeros);
        text.extend(
            digits
                .iter()
                .rev()
                .map(|d| char::from(BASE58[usize::from(*d)])),
        );
        text
    }

    #[test]
    fn known_addresses() {
        // BIP 173 / 350 test vectors, the genesis address, and the EIP-55 examples.
        let valid = [
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0x52908400098527886e0f7030069857d2e4169ee7",
        ];
        for address in valid {
            assert!(normalise(address).is_some(), "{address}");
        }
        let invalid = [
            // bech32m checksum on a version-0 program, and the other way round (BIP 350).
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
            "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du",
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T5",
            "bc1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
            "0x1234",
            "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9",
        ];
        for address in invalid {
            assert!(normalise(address).is_none(), "{address}");
        }
        assert_eq!(
            eip55("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        );
    }

    proptest! {
        #[test]
        fn segwit_round_trips_and_any_one_character_change_is_caught(
            version in 0u8..=16,
            program in proptest::collection::vec(any::<u8>(), 20..=32),
            position in any::<prop::sample::Index>(),
        ) {
            let program = if version == 0 { program[..20].to_vec() } else { program };
            let address = encode_segwit("bc", version, &program);
            prop_assert_eq!(normalise(&address), Some(address.clone()));
            prop_assert_eq!(normalise(&address.to_ascii_uppercase()), Some(address.clone()));
            // Change one data character: bech32 detects every single substitution.
            let index = 3 + position.index(address.len() - 3);
            let mut bytes = address.into_bytes();
            let original = bytes[index];
            bytes[index] = if original == b'q' { b'p' } else { b'q' };
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(normalise(&changed).is_none(), "{}", changed);
        }

        #[test]
        fn base58check_round_trips_and_a_changed_character_is_caught(
            version in prop::sample::select(vec![0x00u8, 0x05, 0x6f, 0xc4]),
            payload in any::<[u8; 20]>(),
            position in any::<prop::sample::Index>(),
        ) {
            let address = encode_base58check(version, &payload);
            prop_assert_eq!(normalise(&address), Some(address.clone()));
            let index = position.index(address.len());
            let mut bytes = address.into_bytes();
            bytes[index] = if bytes[index] == b'2' { b'3' } else { b'2' };
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(normalise(&changed).is_none(), "{}", changed);
        }

        #[test]
        fn ethereum_checksums_round_trip_and_one_flipped_case_is_caught(
            address in any::<[u8; 20]>(),
        ) {
            let lower: String = address.iter().map(|b| format!("{b:02x}")).collect();
            let checksummed = eip55(&lower);
            let expected = format!("0x{lower}");
            prop_assert_eq!(normalise(&format!("0x{checksummed}")), Some(expected.clone()));
            prop_assert_eq!(normalise(&format!("0x{}", lower.to_ascii_uppercase())), Some(expected));
            // Flip the case of one letter, if there are letters and the result is mixed.
            if let Some(index) = checksummed.find(|c: char| c.is_ascii_alphabetic()) {
                let mut flipped: Vec<char> = checksummed.chars().collect();
                flipped[index] = if flipped[index].is_ascii_uppercase() {
                    flipped[index].to_ascii_lowercase()
                } else {
                    flipped[index].to_ascii_uppercase()
                };
                let flipped: String = flipped.into_iter().collect();
                let mixed = flipped != flipped.to_ascii_lowercase() && flipped != flipped.to_ascii_uppercase();
                if mixed {
                    let candidate = format!("0x{}", flipped);
                    prop_assert!(normalise(&candidate).is_none(), "{}", candidate);
                }
            }
        }
    }
}
