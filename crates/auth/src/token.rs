//! Certificate-bound access tokens (RFC 8705): short-lived JWTs that the directory issues
//! over mutual TLS and every service verifies locally, from the published keys.
//!
//! - Signed with Ed25519 (`alg: EdDSA`), and only that: the algorithm is pinned per key,
//!   so `alg: none`, an HS256 token "signed" with the public key or an RS256 token are
//!   refused before any signature is checked.
//! - `kid` names the key: the RFC 7638 thumbprint of its JWK. During a rotation the
//!   previous keys still verify (nothing new is signed with them), so tokens issued just
//!   before the switch stay valid until they expire.
//! - `exp`, `nbf`, `iat`, `aud`, `iss`, `sub` and `jti` are required; `exp` is at most
//!   [`MAX_LIFETIME`] after `iat`.
//! - `cnf.x5t#S256` holds the SHA-256 thumbprint of the client certificate the token was
//!   issued to: a token is accepted only on a connection presenting that certificate.
//!
//! jsonwebtoken does the parsing and the claim checks; the signatures are made and
//! checked by `ring` through a [`CryptoProvider`] that knows EdDSA alone, so no RSA or
//! HMAC code is linked at all.

use std::{collections::BTreeMap, sync::Once, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils},
    errors::ErrorKind,
};
use liaison_core::{PrincipalId, Role, Timestamp};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest a token may live.
pub const MAX_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Clock skew tolerated between the hub's nodes, in seconds.
const LEEWAY_SECONDS: u64 = 30;

/// The claims of a Liaison token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: `spiffe://<trust-domain>/directory`.
    pub iss: String,
    /// Audience: `spiffe://<trust-domain>/hub`.
    pub aud: String,
    /// The principal's URI, as in its certificate.
    pub sub: String,
    /// The principal's agency.
    pub agency: String,
    /// Roles from the directory when the token was issued.
    pub roles: Vec<String>,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Not before, seconds since the epoch.
    pub nbf: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// Token id, for the audit log.
    pub jti: String,
    /// Confirmation: the certificate the token is bound to.
    pub cnf: Confirmation,
}

/// RFC 8705 confirmation claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// base64url (no padding) of the SHA-256 of the client certificate's DER.
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
}

/// Why a token was refused. The text is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, or a JWT this hub cannot use.
    #[error("the token is malformed")]
    Malformed,
    /// `alg` other than EdDSA (`none`, HS256, RS256, …).
    #[error("the token's algorithm is not accepted (EdDSA only)")]
    Algorithm,
    /// No `kid`, or one naming no published key.
    #[error("the token was not signed by a key of this hub")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    Signature,
    /// Past `exp`.
    #[error("the token has expired")]
    Expired,
    /// Before `nbf`.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Wrong `aud`.
    #[error("the token is for another audience")]
    Audience,
    /// Wrong `iss`.
    #[error("the token was issued by someone else")]
    Issuer,
    /// A required claim is missing or has the wrong type.
    #[error("the token lacks a required claim or has one of the wrong type")]
    Claims,
    /// Lives longer than [`MAX_LIFETIME`].
    #[error("the token's lifetime exceeds 15 minutes")]
    Lifetime,
    /// `cnf.x5t#S256` names another certificate than the connection's.
    #[error("the token is bound to another client certificate")]
    WrongCertificate,
    /// `sub` is not the principal of the connection's certificate.
    #[error("the token names another principal than the client certificate")]
    WrongPrincipal,
}

/// Why a key could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an Ed25519 private key in PKCS#8 DER form")]
pub struct KeyError;

/// One token key: an Ed25519 key pair and its `kid`.
#[derive(Debug)]
pub struct TokenKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
    kid: String,
}

impl TokenKey {
    /// Loads a PKCS#8 DER Ed25519 key (what `liaison dev init` writes).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| KeyError)?;
        let kid = jwk_thumbprint(pair.public_key().as_ref());
        Ok(Self {
            pair,
            pkcs8: pkcs8.to_vec(),
            kid,
        })
    }

    /// Generates a fresh key, PKCS#8 DER.
    pub fn generate_pkcs8() -> Result<Vec<u8>, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|document| document.as_ref().to_vec())
            .map_err(|_| KeyError)
    }

    /// The key id: RFC 7638 thumbprint of the public JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }
}

/// The `alg` named in a token's header, if the header is JSON at all.
fn header_algorithm(token: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// RFC 7638: SHA-256 over the JWK's required members in lexicographic order.
fn jwk_thumbprint(public_key: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public_key)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The `x5t#S256` value of a certificate whose SHA-256 is `sha256_hex`.
pub fn certificate_thumbprint(sha256_hex: &str) -> String {
    URL_SAFE_NO_PAD.encode(hex::decode(sha256_hex).unwrap_or_default())
}

/// Issues and verifies the hub's tokens.
#[derive(Debug)]
pub struct TokenAuthority {
    signing: TokenKey,
    previous: Vec<TokenKey>,
    issuer: String,
    audience: String,
    trust_domain: String,
    lifetime: Duration,
    /// Tokens whose signature, algorithm, key, issuer and audience verified, with their
    /// claims: a client presents the same token on every call until it refreshes it, and
    /// checking an Ed25519 signature costs more than the rest of a small call. Only the
    /// exact bytes that verified are found here; the checks that depend on the call (time,
    /// certificate, principal) run every time.
    verified: std::sync::Mutex<std::collections::HashMap<String, Claims>>,
}

/// Tokens remembered as verified at most; beyond, the memory starts afresh.
const VERIFIED_MAX: usize = 4_096;

/// A token that verified, with the claims it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The claims.
    pub claims: Claims,
    /// The roles it names that this hub knows.
    pub roles: Vec<Role>,
}

impl TokenAuthority {
    /// An authority for `trust_domain` that signs with `signing` and still accepts tokens
    /// of the `previous` keys. `lifetime` is capped at [`MAX_LIFETIME`].
    pub fn new(
        trust_domain: &str,
        signing: TokenKey,
        previous: Vec<TokenKey>,
        lifetime: Duration,
    ) -> Self {
        install_crypto_provider();
        Self {
            signing,
            previous,
            issuer: format!("spiffe://{trust_domain}/directory"),
            audience: Self::audience_of(trust_domain),
            trust_domain: trust_domain.to_owned(),
            lifetime: lifetime.min(MAX_LIFETIME),
            verified: std::sync::Mutex::default(),
        }
    }

    /// The audience of the hub's own tokens.
    pub fn audience_of(trust_domain: &str) -> String {
        format!("spiffe://{trust_domain}/hub")
    }

    /// The audience this authority issues for and accepts.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The issuer this authority names.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Issues a token for `principal` with `roles`, bound to the certificate whose SHA-256
    /// is `certificate_sha256` (hex), valid from `now` for the configured lifetime.
    pub fn issue(
        &self,
        principal: &PrincipalId,
        roles: &[Role],
        certificate_sha256: &str,
        now: Timestamp,
    ) -> Result<(String, Claims), TokenError> {
        let iat = u64::try_from(now.as_micros() / 1_000_000).map_err(|_| TokenError::Claims)?;
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: principal.to_uri(&self.trust_domain),
            agency: principal.agency().to_string(),
            roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
            iat,
            nbf: iat,
            exp: iat + self.lifetime.as_secs(),
            jti: ulid::Ulid::new().to_string().to_ascii_lowercase(),
            cnf: Confirmation {
                x5t_s256: certificate_thumbprint(certificate_sha256),
            },
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signing.kid.clone());
        header.typ = Some("JWT".into());
        let key = EncodingKey::from_ed_der(&self.signing.pkcs8);
        let token = jsonwebtoken::encode(&header, &claims, &key).map_err(|_| TokenError::Claims)?;
        Ok((token, claims))
    }

    /// Verifies `token` as presented on a connection whose client certificate has SHA-256
    /// `certificate_sha256` (hex) and names `principal`, at time `now`.
    pub fn verify(
        &self,
        token: &str,
        principal: &PrincipalId,
        certificate_sha256: &str,
        now: Timestamp,
    ) -> Result<VerifiedToken, TokenError> {
        let claims = self.signed_claims(token)?;
        let now_seconds = u64::try_from(now.as_micros() / 1_000_000).unwrap_or(0);
        if claims.exp + LEEWAY_SECONDS <= now_seconds {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now_seconds + LEEWAY_SECONDS {
            return Err(TokenError::NotYetValid);
        }
        if claims.exp.saturating_sub(claims.iat) > MAX_LIFETIME.as_secs() {
            return Err(TokenError::Lifetime);
        }
        if claims.cnf.x5t_s256 != certificate_thumbprint(certificate_sha256) {
            return Err(TokenError::WrongCertificate);
        }
        if claims.sub != principal.to_uri(&self.trust_domain)
            || claims.agency != principal.agency().as_str()
        {
            return Err(TokenError::WrongPrincipal);
        }
        let roles = claims
            .roles
            .iter()
            .filter_map(|role| role.parse().ok())
            .collect();
        Ok(VerifiedToken { claims, roles })
    }

    /// The claims of `token` once its signature, algorithm, key, issuer and audience
    /// verify (remembered per exact token).
    fn signed_claims(&self, token: &str) -> Result<Claims, TokenError> {
        if let Some(claims) = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
        {
            return Ok(claims.clone());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            // `alg: none` and other names jsonwebtoken does not know fail to parse at all;
            // say which, for the caller and the audit log.
            if header_algorithm(token).is_some_and(|alg| alg != "EdDSA") {
                TokenError::Algorithm
            } else {
                TokenError::Malformed
            }
        })?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Algorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = std::iter::once(&self.signing)
            .chain(&self.previous)
            .find(|key| key.kid == kid)
            .ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "aud", "iss", "sub"]);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        // The clock is checked below against `now` (with LEEWAY_SECONDS), so that the
        // check is testable; presence and numeric type of `exp`/`nbf` are checked here.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let decoded = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_ed_der(key.public_key()),
            &validation,
        )
        .map_err(|error| match error.kind() {
            ErrorKind::InvalidSignature => TokenError::Signature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenError::Algorithm,
            ErrorKind::InvalidAudience => TokenError::Audience,
            ErrorKind::InvalidIssuer => TokenError::Issuer,
            ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => TokenError::Claims,
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            _ => TokenError::Malformed,
        })?;
        let claims = decoded.claims;
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() >= VERIFIED_MAX {
            verified.clear();
        }
        verified.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    /// The JSON Web Key Set of every key that verifies tokens: the signing key first,
    /// then the keys being rotated out.
    pub fn jwks_json(&self) -> String {
        let keys: Vec<BTreeMap<&str, String>> = std::iter::once(&self.signing)
            .chain(&self.previous)
            .map(|key| {
                BTreeMap::from([
                    ("kty", "OKP".to_owned()),
                    ("crv", "Ed25519".to_owned()),
                    ("alg", "EdDSA".to_owned()),
                    ("use", "sig".to_owned()),
                    ("kid", key.kid.clone()),
                    ("x", URL_SAFE_NO_PAD.encode(key.public_key())),
                ])
            })
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }
}

// ---- the EdDSA-only crypto provider, on ring ----

struct RingEd25519Signer(Ed25519KeyPair);

impl signature::Signer<Vec<u8>> for RingEd25519Signer {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(message).as_ref().to_vec())
    }
}

impl JwtSigner for RingEd25519Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct RingEd25519Verifier(Vec<u8>);

impl signature::Verifier<Vec<u8>> for RingEd25519Verifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingEd25519Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn signer_factory(
    algorithm: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.as_bytes())
        .map_err(|_| jsonwebtoken::errors::Error::from(ErrorKind::InvalidEddsaKey))?;
    Ok(Box::new(RingEd25519Signer(pair)))
}

fn verifier_factory(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(RingEd25519Verifier(
        key.try_get_as_bytes()?.to_vec(),
    )))
}

fn unsupported_components(_: &[u8]) -> jsonwebtoken::errors::Result<(Vec<u8>, Vec<u8>)> {
    Err(ErrorKind::InvalidAlgorithm.into())
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: unsupported_components,
        rsa_pub_components_from_public_key: unsupported_components,
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        ed_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        compute_digest: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
    },
};

/// Makes the EdDSA-only provider jsonwebtoken's process default. Idempotent.
fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err only when a provider is installed already, which in this process is ours.
        let _ = PROVIDER.install_default();
    });
}

#[cfg(test)]
mod tests {
    use liaison_core::{AgencyId, PrincipalKind, PrincipalName};

    use super::*;

    const CERT: &str = "5f1e0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6";
    const OTHER_CERT: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn key() -> TokenKey {
        TokenKey::from_pkcs8(&TokenKey::generate_pkcs8().unwrap()).unwrap()
    }

    fn principal(agency: &str) -> PrincipalId {
        PrincipalId::new(
            AgencyId::parse(agency).unwrap(),
            PrincipalKind::Person,
            PrincipalName::parse("officer").unwrap(),
        )
    }

    fn now() -> Timestamp {
        Timestamp::from_micros(1_790_000_000_000_000)
    }

    fn authority() -> TokenAuthority {
        TokenAuthority::new("liaison.test", key(), Vec::new(), MAX_LIFETIME)
    }

    fn forge(header: &str, claims: &serde_json::Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    fn claims_json(authority: &TokenAuthority, exp_offset: i64) -> serde_json::Value {
        let iat = now().as_micros() / 1_000_000;
        serde_json::json!({
            "iss": authority.issuer(), "aud": authority.audience(),
            "sub": principal("UA-CERT").to_uri("liaison.test"), "agency": "UA-CERT",
            "roles": ["officer"], "iat": iat, "nbf": iat, "exp": iat + exp_offset,
            "jti": "x", "cnf": {"x5t#S256": certificate_thumbprint(CERT)}
        })
    }

    #[test]
    fn a_token_round_trips_with_its_claims() {
        let authority = authority();
        let (token, claims) = authority
            .issue(&principal("UA-CERT"), &[Role::Officer], CERT, now())
            .unwrap();
        assert_eq!(claims.exp - claims.iat, 900);
        let verified = authority
            .verify(&token, &principal("UA-CERT"), CERT, now())
            .unwrap();
        assert_eq!(verified.roles, vec![Role::Officer]);
        assert_eq!(verified.claims.cnf.x5t_s256.len(), 43);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(authority.signing.kid()));
    }

    #[test]
    fn a_remembered_token_vouches_for_its_exact_bytes_only() {
        let authority = authority();
        let (token, _) = authority
            .issue(&principal("UA-CERT"), &[Role::Officer], CERT, now())
            .unwrap();
        authority
            .verify(&token, &principal("UA-CERT"), CERT, now())
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        // The same signature over other claims (an added role).
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["roles"] = serde_json::json!(["officer", "operator"]);
        let altered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        assert_eq!(
            authority.verify(&altered, &principal("UA-CERT"), CERT, now()),
            Err(TokenError::Signature)
        );
        // One byte of the signature changed.
        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[10] ^= 1;
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(signature)
        );
        assert_eq!(
            authority.verify(&tampered, &principal("UA-CERT"), CERT, now()),
            Err(TokenError::Signature)
        );
        // The remembered token itself still meets every per-call check.
        assert_eq!(
            authority.verify(&token, &principal("UA-CERT"), OTHER_CERT, now()),
            Err(TokenError::WrongCertificate)
        );
    }

    #[test]
    fn refuses_tokens_on_another_certificate_or_principal() {
        let authority = authority();
        let (token, _) = authority
            .issue(&principal("UA-CERT"), &[Role::Officer], CERT, now())
            .unwrap();
        assert_eq!(
            authority.verify(&token, &principal("UA-CERT"), OTHER_CERT, now()),
            Err(TokenError::WrongCertificate)
        );
        assert_eq!(
            authority.verify(&token, &principal("RS-MUP"), CERT, now()),
            Err(TokenError::WrongPrincipal)
        );
    }

    #[test]
    fn refuses_expired_tokens_and_those_from_the_future() {
        let authority = authority();
        let (token, _) = authority
            .issue(&principal("UA-CERT"), &[Role::Officer], CERT, now())
            .unwrap();
        let later = Timestamp::from_micros(now().as_micros() + 16 * 60 * 1_000_000);
        assert_eq!(
            authority.verify(&token, &principal("UA-CERT"), CERT, later),
            Err(TokenError::Expired)
        );
        let earlier = Timestamp::from_micros(now().as_micros() - 5 * 60 * 1_000_000);
        assert_eq!(
            authority.verify(&token, &principal("UA-CERT"), CERT, earlier),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn refuses_unsigned_symmetric_and_foreign_tokens() {
        let authority = authority();
        let kid = authority.signing.kid().to_owned();
        let claims = claims_json(&authority, 600);
        let none = forge(r#"{"alg":"none","typ":"JWT"}"#, &claims, b"");
        assert_eq!(
            authority.verify(&none, &principal("UA-CERT"), CERT, now()),
            Err(TokenError::Algorithm)
        );
        // HS256 with the public key as the HMAC secret: the classic confusion attack.
        let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#);
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&header),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, authority.signing.public_key()),
            signing_input.as_bytes(),
        );
        let hs256 = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
        assert_eq!(
            authority.verify(&hs256, &principal("UA-CERT"), CERT, now()),
            Err(TokenError::Algorithm)
        );
        // Signed by a key the hub does not know, but claiming the hub's kid.
        let stranger = TokenAuthority::new("liaison.test", key(), Vec::new(), MAX_LIFETIME);
        let (foreign, _) = stranger
            .issue(&principal("UA-CERT"), &[Role::Officer], CERT, now())
            .unwrap();
        assert_eq!(
            authority.verify(&foreign, &principal("UA-CERT"), CERT, now()),
            Err(TokenError::UnknownKey)
        );
        let mut parts: Vec<&str> = foreign.split('.').collect();
        let relabelled =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#));
        parts[0] = &relabelled;
        assert_eq!(
            authority.verify(&parts.join("."), &principal("UA-CERT"), CERT, now()),
            Err(TokenError::Signature)
        );
        assert_eq!(
            authority.verify("not-a-jwt", &principal("UA-CERT"), CERT, now()),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn refuses_wrong_audience_issuer_lifetime_and_string_times() {
        let authority = authority();
        let sign = |claims: &serde_json::Value| {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(authority.signing.kid().to_owned());
            jsonwebtoken::encode(
                &header,
                claims,
                &EncodingKey::from_ed_der(&authority.signing.pkcs8),
            )
            .unwrap()
        };
        let verify = |claims: &serde_json::Value| {
            authority.verify(&sign(claims), &principal("UA-CERT"), CERT, now())
        };
        assert!(verify(&claims_json(&authority, 600)).is_ok());
        let mut claims = claims_json(&authority, 600);
        claims["aud"] = "spiffe://liaison.test/elsewhere".into();
        assert_eq!(verify(&claims), Err(TokenError::Audience));
        let mut claims = claims_json(&authority, 600);
        claims["iss"] = "https://evil.example".into();
        assert_eq!(verify(&claims), Err(TokenError::Issuer));
        assert_eq!(
            verify(&claims_json(&authority, 3600)),
            Err(TokenError::Lifetime)
        );
        // CVE-2026-25537: `exp` as a string must not slip past the expiry check.
        let mut claims = claims_json(&authority, 600);
        claims["exp"] = "99999999999".into();
        assert_eq!(verify(&claims), Err(TokenError::Claims));
        let mut claims = claims_json(&authority, 600);
        claims.as_object_mut().unwrap().remove("exp");
        assert_eq!(verify(&claims), Err(TokenError::Claims));
    }

    #[test]
    fn rotation_keeps_previous_keys_verifying() {
        let old = key();
        let old_pkcs8 = old.pkcs8.clone();
        let before = TokenAuthority::new("liaison.test", old, Vec::new(), MAX_LIFETIME);
        let (token, _) = before
            .issue(&principal("UA-CERT"), &[Role::Officer], CERT, now())
            .unwrap();
        let rotated = TokenAuthority::new(
            "liaison.test",
            key(),
            vec![TokenKey::from_pkcs8(&old_pkcs8).unwrap()],
            MAX_LIFETIME,
        );
        assert!(
            rotated
                .verify(&token, &principal("UA-CERT"), CERT, now())
                .is_ok()
        );
        let jwks: serde_json::Value = serde_json::from_str(&rotated.jwks_json()).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        let after = TokenAuthority::new("liaison.test", key(), Vec::new(), MAX_LIFETIME);
        assert_eq!(
            after.verify(&token, &principal("UA-CERT"), CERT, now()),
            Err(TokenError::UnknownKey)
        );
    }
}
