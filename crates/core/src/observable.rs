//! Observables: machine-readable values, validated and normalised so that the same value
//! sent two ways is stored once and correlates.

use std::{
    fmt,
    net::{Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

/// The type of an observable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObservableType {
    /// A domain name.
    Domain,
    /// An absolute http(s) URL.
    Url,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// An e-mail address.
    Email,
    /// A phone number, E.164.
    Phone,
    /// An IBAN.
    Iban,
    /// A crypto-asset wallet address.
    CryptoWallet,
    /// A SHA-256 file hash.
    Sha256,
    /// A SHA-1 file hash.
    Sha1,
    /// An MD5 file hash.
    Md5,
    /// A payment card BIN.
    CardBin,
    /// A messenger handle, `service:handle`.
    MessengerHandle,
}

impl ObservableType {
    /// Every type.
    pub const ALL: [ObservableType; 13] = [
        ObservableType::Domain,
        ObservableType::Url,
        ObservableType::Ipv4,
        ObservableType::Ipv6,
        ObservableType::Email,
        ObservableType::Phone,
        ObservableType::Iban,
        ObservableType::CryptoWallet,
        ObservableType::Sha256,
        ObservableType::Sha1,
        ObservableType::Md5,
        ObservableType::CardBin,
        ObservableType::MessengerHandle,
    ];

    /// True for values that identify or can identify a natural person — e-mail addresses,
    /// phone numbers, IBANs, messenger handles: reading them needs a stated purpose, which
    /// the audit log keeps (Directive (EU) 2016/680, Art. 25).
    pub fn is_personal_data(self) -> bool {
        matches!(
            self,
            ObservableType::Email
                | ObservableType::Phone
                | ObservableType::Iban
                | ObservableType::MessengerHandle
        )
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ObservableType::Domain => "domain",
            ObservableType::Url => "url",
            ObservableType::Ipv4 => "ipv4",
            ObservableType::Ipv6 => "ipv6",
            ObservableType::Email => "email",
            ObservableType::Phone => "phone",
            ObservableType::Iban => "iban",
            ObservableType::CryptoWallet => "crypto_wallet",
            ObservableType::Sha256 => "sha256",
            ObservableType::Sha1 => "sha1",
            ObservableType::Md5 => "md5",
            ObservableType::CardBin => "card_bin",
            ObservableType::MessengerHandle => "messenger_handle",
        }
    }
}

impl FromStr for ObservableType {
    type Err = ObservableError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ObservableType::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or(ObservableError::UnknownType)
    }
}

impl fmt::Display for ObservableType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a value was refused. The messages never echo the value back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObservableError {
    /// Unknown type name.
    #[error("unknown observable type")]
    UnknownType,
    /// Empty or too long.
    #[error("value must be 1 to 2048 characters")]
    Length,
    /// Not a domain name.
    #[error(
        "not a domain name: at least two labels of letters, digits and '-' (internationalised \
         names are accepted and stored in xn-- form)"
    )]
    Domain,
    /// Not an http(s) URL.
    #[error("not an absolute http or https URL with a valid host")]
    Url,
    /// Not an IPv4 address.
    #[error("not an IPv4 address in dotted-decimal form")]
    Ipv4,
    /// Not an IPv6 address.
    #[error("not an IPv6 address")]
    Ipv6,
    /// Not an e-mail address.
    #[error("not an e-mail address (local-part@domain)")]
    Email,
    /// Not an E.164 number.
    #[error("not an international phone number: '+', country code and number, 8 to 15 digits")]
    Phone,
    /// IBAN format or check digits wrong.
    #[error("not a valid IBAN (country code, check digits, account; mod-97 check failed)")]
    Iban,
    /// Not a wallet address.
    #[error(
        "not a Bitcoin (base58check, bech32 or bech32m) or Ethereum (0x and 40 hex digits, \
         EIP-55 checksum when in mixed case) address, or its checksum is wrong"
    )]
    CryptoWallet,
    /// Wrong hash length or not hex.
    #[error("hash must be {0} hexadecimal characters")]
    Hash(usize),
    /// Not a BIN.
    #[error("card BIN must be 6 or 8 digits")]
    CardBin,
    /// Not `service:handle`.
    #[error("messenger handle must be service:handle, e.g. telegram:@example")]
    MessengerHandle,
}

/// A validated observable with its value in normal form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Observable {
    kind: ObservableType,
    value: String,
}

impl Observable {
    /// Validates `value` as `kind` and normalises it.
    pub fn parse(kind: ObservableType, value: &str) -> Result<Self, ObservableError> {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > 2048 {
            return Err(ObservableError::Length);
        }
        let normal = match kind {
            ObservableType::Domain => normalise_domain(value).ok_or(ObservableError::Domain)?,
            ObservableType::Url => normalise_url(value).ok_or(ObservableError::Url)?,
            ObservableType::Ipv4 => Ipv4Addr::from_str(value)
                .map_err(|_| ObservableError::Ipv4)?
                .to_string(),
            ObservableType::Ipv6 => {
                Ipv6Addr::from_str(value.trim_start_matches('[').trim_end_matches(']'))
                    .map_err(|_| ObservableError::Ipv6)?
                    .to_string()
            }
            ObservableType::Email => normalise_email(value).ok_or(ObservableError::Email)?,
            ObservableType::Phone => normalise_phone(value).ok_or(ObservableError::Phone)?,
            ObservableType::Iban => normalise_iban(value).ok_or(ObservableError::Iban)?,
            ObservableType::CryptoWallet => {
                normalise_wallet(value).ok_or(ObservableError::CryptoWallet)?
            }
            ObservableType::Sha256 => normalise_hex(value, 64).ok_or(ObservableError::Hash(64))?,
            ObservableType::Sha1 => normalise_hex(value, 40).ok_or(ObservableError::Hash(40))?,
            ObservableType::Md5 => normalise_hex(value, 32).ok_or(ObservableError::Hash(32))?,
            ObservableType::CardBin => {
                let digits_ok =
                    matches!(value.len(), 6 | 8) && value.bytes().all(|b| b.is_ascii_digit());
                if !digits_ok {
                    return Err(ObservableError::CardBin);
                }
                value.to_owned()
            }
            ObservableType::MessengerHandle => {
                normalise_messenger(value).ok_or(ObservableError::MessengerHandle)?
            }
        };
        Ok(Self {
            kind,
            value: normal,
        })
    }

    /// Rebuilds an observable read back from the store, where it was stored normalised.
    pub fn from_stored(kind: &str, value: &str) -> Result<Self, ObservableError> {
        Self::parse(kind.parse()?, value)
    }

    /// The type.
    pub fn kind(&self) -> ObservableType {
        self.kind
    }

    /// The normalised value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// Domains: UTS 46 processing (case folding, NFC, mapping) then IDNA 2008 ASCII form, so
/// `Пример.СРБ` and `xn--e1afmkfd.xn--90a3ac` are one observable; then the LDH rule per
/// label, at least two labels, a non-numeric top-level label, at most 253 characters.
fn normalise_domain(value: &str) -> Option<String> {
    let value = value.strip_suffix('.').unwrap_or(value);
    if value.contains(char::is_whitespace) || value.contains(['/', ':', '@']) {
        return None;
    }
    let ascii = idna::domain_to_ascii_strict(value).ok()?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    (labels_ok && ascii.len() <= 253).then_some(ascii)
}

/// URLs: WHATWG parsing and serialisation (`url` crate): scheme and host lowercased, the
/// host in IDNA ASCII form, the default port dropped, dot segments resolved, the path at
/// least `/`, percent-encoding made consistent. Only http and https, and no credentials
/// (they hide the real host from a reader).
fn normalise_url(value: &str) -> Option<String> {
    if value.chars().any(char::is_whitespace) {
        return None;
    }
    let url = url::Url::parse(value).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    match url.host()? {
        url::Host::Domain(domain) => {
            normalise_domain(domain)?;
        }
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => {}
    }
    Some(url.to_string())
}

fn normalise_email(value: &str) -> Option<String> {
    let (local, domain) = value.rsplit_once('@')?;
    let local_ok = (1..=64).contains(&local.len())
        && !local.contains(char::is_whitespace)
        && !local.contains(['<', '>', '"', '@', ',', ';']);
    let domain = normalise_domain(domain)?;
    local_ok.then(|| format!("{local}@{domain}"))
}

fn normalise_phone(value: &str) -> Option<String> {
    let compact: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact
        .strip_prefix('+')
        .or_else(|| compact.strip_prefix("00"))?;
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

fn normalise_iban(value: &str) -> Option<String> {
    let compact: String = value
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let bytes = compact.as_bytes();
    let shape_ok = (15..=34).contains(&bytes.len())
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..4].iter().all(u8::is_ascii_digit)
        && bytes.iter().all(u8::is_ascii_alphanumeric);
    if !shape_ok {
        return None;
    }
    let rearranged = compact[4..].bytes().chain(compact[..4].bytes());
    let mut remainder: u32 = 0;
    for byte in rearranged {
        let digit_value = if byte.is_ascii_digit() {
            u32::from(byte - b'0')
        } else {
            u32::from(byte - b'A') + 10
        };
        remainder = if digit_value >= 10 {
            (remainder * 100 + digit_value) % 97
        } else {
            (remainder * 10 + digit_value) % 97
        };
    }
    (remainder == 1).then_some(compact)
}

fn normalise_wallet(value: &str) -> Option<String> {
    crate::wallet::normalise(value)
}

fn normalise_hex(value: &str, length: usize) -> Option<String> {
    (value.len() == length && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| value.to_ascii_lowercase())
}

fn normalise_messenger(value: &str) -> Option<String> {
    let (service, handle) = value.split_once(':')?;
    let service = service.to_ascii_lowercase();
    let ok = (1..=32).contains(&service.len())
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && !handle.is_empty()
        && handle.chars().count() <= 128
        && !handle.contains(char::is_whitespace);
    ok.then(|| format!("{service}:{handle}"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn normal(kind: ObservableType, value: &str) -> Result<String, ObservableError> {
        Observable::parse(kind, value).map(|observable| observable.value().to_owned())
    }

    #[test]
    fn normal_forms() {
        use ObservableType::*;
        let cases = [
            (
                Domain,
                "Bank-Secure.EXAMPLE.com.",
                "bank-secure.example.com",
            ),
            (Domain, "Пример.СРБ", "xn--e1afmkfd.xn--90a3ac"),
            (Domain, "xn--e1afmkfd.xn--90a3ac", "xn--e1afmkfd.xn--90a3ac"),
            (Domain, "bankas.LV", "bankas.lv"),
            (
                Url,
                "https://Пример.СРБ/вход?код=1",
                "https://xn--e1afmkfd.xn--90a3ac/%D0%B2%D1%85%D0%BE%D0%B4?%D0%BA%D0%BE%D0%B4=1",
            ),
            (
                Url,
                "http://example.com/a/./b/../c",
                "http://example.com/a/c",
            ),
            (
                Url,
                "HTTPS://Login.Example.com:443/a?b=c",
                "https://login.example.com/a?b=c",
            ),
            (Url, "http://203.0.113.7:8080", "http://203.0.113.7:8080/"),
            (Ipv4, " 203.0.113.7 ", "203.0.113.7"),
            (Ipv6, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            (Email, "Ivan.Petrov@Example.COM", "Ivan.Petrov@example.com"),
            (Phone, "+381 (11) 306-2000", "+381113062000"),
            (Phone, "00380 44 123 4567", "+380441234567"),
            (
                Iban,
                "rs35 2600 0560 1001 6113 79",
                "RS35260005601001611379",
            ),
            (Iban, "LV80BANK0000435195001", "LV80BANK0000435195001"),
            (
                CryptoWallet,
                "0x52908400098527886E0F7030069857D2E4169EE7",
                "0x52908400098527886e0f7030069857d2e4169ee7",
            ),
            (
                CryptoWallet,
                "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            ),
            (Sha256, &"AB".repeat(32), &"ab".repeat(32)),
            (CardBin, "45717360", "45717360"),
            (
                MessengerHandle,
                "Telegram:@viber_support",
                "telegram:@viber_support",
            ),
        ];
        for (kind, input, expected) in cases {
            assert_eq!(
                normal(kind, input).as_deref(),
                Ok(expected),
                "{kind} {input}"
            );
        }
    }

    #[test]
    fn internationalised_domains_are_stored_in_ascii_and_decode_back() {
        for (input, unicode) in [
            ("Ngân-Hàng.VN", "ngân-hàng.vn"),
            ("šveicarijas-banka.lv", "šveicarijas-banka.lv"),
            ("ПРИВАТ-БЕЗПЕКА.укр", "приват-безпека.укр"),
        ] {
            let stored = normal(ObservableType::Domain, input).unwrap();
            assert!(stored.is_ascii() && stored.contains("xn--"), "{stored}");
            let (decoded, errors) = idna::domain_to_unicode(&stored);
            assert!(errors.is_ok());
            assert_eq!(decoded, unicode);
            // The stored form is a fixed point.
            assert_eq!(normal(ObservableType::Domain, &stored).unwrap(), stored);
        }
    }

    proptest::proptest! {
        #[test]
        fn normal_forms_are_fixed_points(
            label in "[a-zа-яёćčđšžăâêôơưđ0-9]{1,12}",
            tld in prop::sample::select(vec!["com", "срб", "vn", "lv", "укр"]),
            path in "[a-z0-9/._-]{0,20}",
        ) {
            let domain = format!("{label}.{tld}");
            if let Ok(stored) = normal(ObservableType::Domain, &domain) {
                prop_assert!(stored.is_ascii());
                prop_assert_eq!(normal(ObservableType::Domain, &stored), Ok(stored.clone()));
                let url = format!("https://{domain}/{path}");
                if let Ok(canonical) = normal(ObservableType::Url, &url) {
                    let prefix = format!("https://{}/", stored);
                    prop_assert!(canonical.starts_with(&prefix));
                    prop_assert_eq!(normal(ObservableType::Url, &canonical), Ok(canonical.clone()));
                }
            }
        }

        #[test]
        fn phone_numbers_normalise_to_e164(
            country in "[1-9][0-9]{0,2}",
            number in "[0-9]{7,11}",
        ) {
            let digits = format!("{country}{number}");
            prop_assume!(digits.len() <= 15);
            let spaced = format!("+{country} ({}) {}", &number[..3], &number[3..]);
            prop_assert_eq!(normal(ObservableType::Phone, &spaced), Ok(format!("+{digits}")));
            let international = format!("00{digits}");
            prop_assert_eq!(normal(ObservableType::Phone, &international), Ok(format!("+{digits}")));
        }

        #[test]
        fn ip_addresses_have_one_canonical_form(octets in proptest::array::uniform4(0u8..=255)) {
            let ip = std::net::Ipv4Addr::from(octets);
            prop_assert_eq!(normal(ObservableType::Ipv4, &ip.to_string()), Ok(ip.to_string()));
            let mapped = std::net::Ipv6Addr::from(u128::from(u32::from(ip)) << 32 | 0xdb8);
            let expanded: String = mapped.segments().iter().map(|s| format!("{s:04X}")).collect::<Vec<_>>().join(":");
            prop_assert_eq!(normal(ObservableType::Ipv6, &expanded), Ok(mapped.to_string()));
        }
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        use ObservableType::*;
        let cases = [
            (Domain, "localhost"),
            (Domain, "-bad.example"),
            (Url, "ftp://example.com/"),
            (Url, "https://user:pass@example.com/"),
            (Url, "https://exa mple.com/"),
            (Url, "https://localhost/"),
            (Domain, "xn--a.example"),
            (Domain, "bad_label.example"),
            (Ipv4, "203.0.113.256"),
            (Ipv4, "2001:db8::1"),
            (Ipv6, "203.0.113.7"),
            (Email, "no-at-sign.example.com"),
            (Phone, "011 306 2000"),
            (Phone, "+12"),
            (Iban, "RS35260005601001611378"),
            (CryptoWallet, "0x1234"),
            (CryptoWallet, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
            (CryptoWallet, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"),
            (Sha256, "abc"),
            (Md5, &"z".repeat(32)),
            (CardBin, "4571"),
            (MessengerHandle, "@nobody"),
            (Domain, ""),
        ];
        for (kind, input) in cases {
            let error = Observable::parse(kind, input).unwrap_err();
            assert!(!error.to_string().is_empty());
            assert!(
                !error.to_string().contains(input) || input.is_empty(),
                "message echoes input"
            );
        }
    }
}
