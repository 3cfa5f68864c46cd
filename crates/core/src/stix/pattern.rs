//! STIX patterns for one observable: writing `[type:path = 'value']` and reading back the
//! one shape Liaison understands — a single equality comparison of a mapped object path
//! with a string literal. Anything else (`AND`, `OR`, `MATCHES`, `IN`, qualifiers, other
//! object paths) is refused with the reason.

use crate::observable::{Observable, ObservableType};

/// The object path of each observable type in a STIX pattern.
fn object_path(kind: ObservableType) -> &'static str {
    match kind {
        ObservableType::Domain => "domain-name:value",
        ObservableType::Url => "url:value",
        ObservableType::Ipv4 => "ipv4-addr:value",
        ObservableType::Ipv6 => "ipv6-addr:value",
        ObservableType::Email => "email-addr:value",
        ObservableType::Sha256 => "file:hashes.'SHA-256'",
        ObservableType::Sha1 => "file:hashes.'SHA-1'",
        ObservableType::Md5 => "file:hashes.MD5",
        ObservableType::Phone => "x-liaison-phone-number:value",
        ObservableType::Iban => "x-liaison-iban:value",
        ObservableType::CryptoWallet => "x-liaison-crypto-wallet:value",
        ObservableType::CardBin => "x-liaison-card-bin:value",
        ObservableType::MessengerHandle => "x-liaison-messenger-handle:value",
    }
}

/// The observable type of an object path, in any of the spellings Liaison reads.
fn kind_of_path(object_type: &str, property: &str) -> Option<ObservableType> {
    let kind = match (object_type, property) {
        ("domain-name", "value") => ObservableType::Domain,
        ("url", "value") => ObservableType::Url,
        ("ipv4-addr", "value") => ObservableType::Ipv4,
        ("ipv6-addr", "value") => ObservableType::Ipv6,
        ("email-addr", "value") => ObservableType::Email,
        ("x-liaison-phone-number", "value") => ObservableType::Phone,
        ("x-liaison-iban", "value") => ObservableType::Iban,
        ("x-liaison-crypto-wallet", "value") | ("cryptocurrency-wallet", "address") => {
            ObservableType::CryptoWallet
        }
        ("x-liaison-card-bin", "value") => ObservableType::CardBin,
        ("x-liaison-messenger-handle", "value") => ObservableType::MessengerHandle,
        ("file", hash) => {
            let algorithm = hash
                .strip_prefix("hashes.")?
                .trim_matches('\'')
                .replace('-', "")
                .to_ascii_uppercase();
            match algorithm.as_str() {
                "SHA256" => ObservableType::Sha256,
                "SHA1" => ObservableType::Sha1,
                "MD5" => ObservableType::Md5,
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(kind)
}

/// A STIX string literal: in single quotes, `\` and `'` escaped with a backslash.
pub fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if matches!(c, '\\' | '\'') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// The STIX pattern of one observable: `[domain-name:value = 'example.com']`.
pub fn pattern_for(observable: &Observable) -> String {
    format!(
        "[{} = {}]",
        object_path(observable.kind()),
        quote(observable.value())
    )
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Not `[path = 'value']`.
    #[error(
        "pattern must be one comparison in brackets, [object-type:property = 'value']; \
         AND, OR, other operators and qualifiers are not imported"
    )]
    Shape,
    /// An object path Liaison has no observable type for.
    #[error("object path '{0}' is not one Liaison imports")]
    Path(String),
    /// An escape other than `\'` and `\\`, or an unterminated string.
    #[error("string literal must be in single quotes with only \\' and \\\\ escaped")]
    Literal,
}

/// Reads a pattern of the one supported shape: the observable type and the raw value.
pub(crate) fn parse(pattern: &str) -> Result<(ObservableType, String), PatternError> {
    let inner = pattern
        .trim()
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or(PatternError::Shape)?;
    let inner = inner.trim_start();
    // The object path: up to whitespace or '=', quoted keys included.
    let mut path_end = inner.len();
    let mut in_quotes = false;
    for (index, c) in inner.char_indices() {
        match c {
            '\'' => in_quotes = !in_quotes,
            c if !in_quotes && (c.is_whitespace() || matches!(c, '=' | '!' | '<' | '>')) => {
                path_end = index;
                break;
            }
            _ => {}
        }
    }
    let path = &inner[..path_end];
    let rest = inner[path_end..].trim_start();
    let rest = rest.strip_prefix('=').ok_or(PatternError::Shape)?;
    let (object_type, property) = path.split_once(':').ok_or(PatternError::Shape)?;
    let kind =
        kind_of_path(object_type, property).ok_or_else(|| PatternError::Path(path.to_owned()))?;
    let (value, after) = parse_literal(rest.trim_start())?;
    if !after.trim().is_empty() {
        return Err(PatternError::Shape);
    }
    Ok((kind, value))
}

/// A string literal at the start of `text`, and what follows it.
fn parse_literal(text: &str) -> Result<(String, &str), PatternError> {
    let body = text.strip_prefix('\'').ok_or(PatternError::Shape)?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped @ ('\\' | '\''))) => value.push(escaped),
                _ => return Err(PatternError::Literal),
            },
            '\'' => return Ok((value, &body[index + 1..])),
            c => value.push(c),
        }
    }
    Err(PatternError::Literal)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_type_writes_a_pattern_that_reads_back() {
        let samples = [
            (ObservableType::Domain, "bank-secure.example"),
            (ObservableType::Url, "https://example.com/a?b='c'"),
            (ObservableType::Ipv4, "203.0.113.7"),
            (ObservableType::Ipv6, "2001:db8::1"),
            (ObservableType::Email, "o'brien@example.com"),
            (ObservableType::Phone, "+381113062000"),
            (ObservableType::Iban, "RS35260005601001611379"),
            (
                ObservableType::CryptoWallet,
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            ),
            (ObservableType::Sha256, &"ab".repeat(32)),
            (ObservableType::Sha1, &"cd".repeat(20)),
            (ObservableType::Md5, &"ef".repeat(16)),
            (ObservableType::CardBin, "45717360"),
            (ObservableType::MessengerHandle, "telegram:@it's\\me"),
        ];
        for (kind, value) in samples {
            let observable = Observable::parse(kind, value).unwrap();
            let pattern = pattern_for(&observable);
            assert_eq!(
                parse(&pattern),
                Ok((kind, observable.value().to_owned())),
                "{pattern}"
            );
        }
    }

    #[test]
    fn patterns_are_written_as_stix_spells_them() {
        let sha = Observable::parse(ObservableType::Sha256, &"AB".repeat(32)).unwrap();
        assert_eq!(
            pattern_for(&sha),
            format!("[file:hashes.'SHA-256' = '{}']", "ab".repeat(32))
        );
        let handle = Observable::parse(ObservableType::MessengerHandle, r"telegram:o'k\x").unwrap();
        assert_eq!(
            pattern_for(&handle),
            r"[x-liaison-messenger-handle:value = 'telegram:o\'k\\x']"
        );
    }

    #[test]
    fn other_spellings_are_read() {
        let hash = "ab".repeat(32);
        for pattern in [
            format!("[file:hashes.'SHA-256'='{hash}']"),
            format!("[ file:hashes.SHA256 = '{hash}' ]"),
            format!("[file:hashes.'sha-256' = '{hash}']"),
        ] {
            assert_eq!(
                parse(&pattern),
                Ok((ObservableType::Sha256, hash.clone())),
                "{pattern}"
            );
        }
        assert_eq!(
            parse("[cryptocurrency-wallet:address = '0xabc']"),
            Ok((ObservableType::CryptoWallet, "0xabc".to_owned()))
        );
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        let cases = [
            (
                "[domain-name:value = 'a.example' OR domain-name:value = 'b.example']",
                PatternError::Shape,
            ),
            ("[domain-name:value != 'a.example']", PatternError::Shape),
            ("[domain-name:value MATCHES 'a']", PatternError::Shape),
            (
                "[domain-name:value = 'a.example'] WITHIN 5 SECONDS",
                PatternError::Shape,
            ),
            (
                "[domain-name:value = 'a.example'] AND [url:value = 'x']",
                PatternError::Shape,
            ),
            ("domain-name:value = 'a.example'", PatternError::Shape),
            (
                "[process:name = 'evil.exe']",
                PatternError::Path("process:name".into()),
            ),
            (
                "[file:hashes.'SHA-512' = 'ab']",
                PatternError::Path("file:hashes.'SHA-512'".into()),
            ),
            ("[domain-name:value = 'a\\nb']", PatternError::Literal),
            ("[domain-name:value = 'unterminated]", PatternError::Literal),
            ("[domain-name:value = h'00']", PatternError::Shape),
            ("", PatternError::Shape),
        ];
        for (pattern, expected) in cases {
            let error = parse(pattern).unwrap_err();
            assert_eq!(error, expected, "{pattern}");
            assert!(!error.to_string().is_empty());
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_survives_quoting(value in "\\PC{0,40}") {
            let pattern = format!("[domain-name:value = {}]", quote(&value));
            prop_assert_eq!(parse(&pattern), Ok((ObservableType::Domain, value)));
        }
    }
}
