//! Issuing and validating the JWTs themselves.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use pm_core::{TenantId, TenantRole, Timestamp, UserId};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Algorithm, Error, KeyConfig, Result};

/// How far a token's `exp` and `nbf` may be off the server's clock and still be accepted, so that
/// small clock differences between the issuer and pm do not refuse fresh tokens.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// The longest token the verifier looks at. A pm token is a few hundred bytes (RS256 about 600);
/// anything far larger is refused before it is decoded, so an attacker cannot make the server
/// base64-decode and parse megabytes per request.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Who a validated token says the caller is. Only a [`Verifier`] produces one, so holding an
/// `Identity` means the token was signed by a configured key and is within its validity window.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub tenant: TenantId,
    pub user: UserId,
    pub role: TenantRole,
    /// When the token stops being accepted, not counting the leeway. A connection authenticated by
    /// the token should end (or ask for a new token) by then.
    pub expires_at: Timestamp,
}

/// Validates tokens against the configured key. Cheap to clone; build it once at startup.
///
/// # Tokens it accepts
///
/// The header's `alg` must name the configured algorithm. The payload is:
///
/// ```json
/// { "sub": "alice@example.com", "tenant_id": "acme", "role": "editor",
///   "exp": 1767225600, "nbf": 1767222000, "iat": 1767222000 }
/// ```
///
/// `sub`, `tenant_id`, `role` and `exp` are required; `nbf` and `iat` are optional. Times are whole
/// seconds since the Unix epoch. Other claims (`iss`, `aud`, …) are ignored.
#[derive(Debug, Clone)]
pub struct Verifier {
    algorithm: Algorithm,
    key: DecodingKey,
    /// Checks the signature and nothing else: times and claims are checked by
    /// [`identity_from_claims`], against a clock the caller can supply.
    signature_only: Validation,
    leeway_secs: u64,
}

impl Verifier {
    /// A verifier for the configured keys, with [`DEFAULT_LEEWAY_SECS`] of leeway. Fails with
    /// [`Error::Key`] if the keys are unusable.
    pub fn new(keys: &KeyConfig) -> Result<Self> {
        let algorithm = keys.algorithm();
        let key = keys.decoding_key()?;
        let mut signature_only = Validation::new(algorithm.jwt());
        signature_only.required_spec_claims.clear();
        signature_only.validate_exp = false;
        signature_only.validate_nbf = false;
        signature_only.validate_aud = false;
        Ok(Self {
            algorithm,
            key,
            signature_only,
            leeway_secs: DEFAULT_LEEWAY_SECS,
        })
    }

    /// The same verifier with another leeway for `exp` and `nbf`, in seconds.
    #[must_use]
    pub fn with_leeway(mut self, leeway_secs: u64) -> Self {
        self.leeway_secs = leeway_secs;
        self
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn leeway_secs(&self) -> u64 {
        self.leeway_secs
    }

    /// Validates a token (the bare JWT, without `Bearer `) now.
    pub fn verify(&self, token: &str) -> Result<Identity> {
        self.verify_at(token, Timestamp::now())
    }

    /// Validates a token as of `now`. Checks run in this order, and the first failure is returned:
    /// presence and size, the header's `alg` (before any cryptography), the signature, the times,
    /// then the identity claims.
    pub fn verify_at(&self, token: &str, now: Timestamp) -> Result<Identity> {
        if token.trim().is_empty() {
            return Err(Error::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::Malformed);
        }
        self.check_header(token)?;
        let claims =
            jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.signature_only)
                .map_err(|e| match e.kind() {
                    ErrorKind::InvalidSignature => Error::BadSignature,
                    // With time and claim validation switched off, everything else the library reports is
                    // about the token's encoding: base64, UTF-8, JSON, or a payload that is not an object.
                    _ => Error::Malformed,
                })?
                .claims;
        identity_from_claims(&claims, now, self.leeway_secs)
    }

    /// Reads the header's `alg` as plain text and compares it with the configured algorithm.
    ///
    /// jsonwebtoken also checks `alg`, but only after parsing it into its own enum (which cannot
    /// represent `none`, so such a token would be reported as malformed) and the whole defence
    /// against `none` and algorithm confusion would rest on how the library's key types and
    /// validation interact. Checking here first makes the rule local and visible: a verifier
    /// accepts exactly one algorithm, and the key never meets a token that names another.
    fn check_header(&self, token: &str) -> Result<()> {
        let mut segments = token.split('.');
        let (Some(header), Some(_payload), Some(_signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(Error::Malformed);
        };
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| Error::Malformed)?;
        let header: RawHeader = serde_json::from_slice(&header).map_err(|_| Error::Malformed)?;
        if header.alg != self.algorithm.as_str() {
            return Err(Error::AlgorithmMismatch {
                expected: self.algorithm,
                found: registered_algorithm_name(&header.alg),
            });
        }
        // RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` names extensions it does
        // not implement, and pm implements none.
        if header.crit.is_some() {
            return Err(Error::Malformed);
        }
        Ok(())
    }
}

/// The header fields pm looks at itself; everything else is left to jsonwebtoken.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// The registered JWS name equal to `alg`, so that errors can say which algorithm a token used
/// without repeating text from the token.
fn registered_algorithm_name(alg: &str) -> &'static str {
    const REGISTERED: &[&str] = &[
        "none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "ES256K", "EdDSA", "Ed25519", "Ed448",
    ];
    REGISTERED
        .iter()
        .find(|name| **name == alg)
        .copied()
        .unwrap_or("unrecognised")
}

fn identity_from_claims(
    claims: &Map<String, Value>,
    now: Timestamp,
    leeway_secs: u64,
) -> Result<Identity> {
    let expires_at = seconds_claim(claims, "exp")?.ok_or(Error::InvalidClaim {
        claim: "exp",
        reason: "is missing",
    })?;
    let not_before = seconds_claim(claims, "nbf")?;
    // `iat` is informational: it is not compared with the clock, but it must be well-formed.
    seconds_claim(claims, "iat")?;

    let leeway_ms = i64::try_from(leeway_secs)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    let now = now.as_millis();
    // RFC 7519 §4.1.4: the token is accepted only before `exp`.
    if now >= expires_at.as_millis().saturating_add(leeway_ms) {
        return Err(Error::Expired);
    }
    // RFC 7519 §4.1.5: the token is accepted from `nbf` on.
    if let Some(not_before) = not_before
        && now.saturating_add(leeway_ms) < not_before.as_millis()
    {
        return Err(Error::NotYetValid);
    }

    let user = UserId::parse(string_claim(claims, "sub")?).map_err(|_| Error::InvalidClaim {
        claim: "sub",
        reason: "is not a valid user id",
    })?;
    let tenant =
        TenantId::parse(string_claim(claims, "tenant_id")?).map_err(|_| Error::InvalidClaim {
            claim: "tenant_id",
            reason: "is not a valid tenant id",
        })?;
    let role =
        TenantRole::parse(string_claim(claims, "role")?).map_err(|_| Error::InvalidClaim {
            claim: "role",
            reason: "must be viewer, editor or admin",
        })?;
    Ok(Identity {
        tenant,
        user,
        role,
        expires_at,
    })
}

/// A NumericDate claim (RFC 7519 §2): absent or `null` is `None`; anything but a whole number of
/// seconds is refused, fractional seconds included, since no issuer pm works with writes them.
fn seconds_claim(claims: &Map<String, Value>, claim: &'static str) -> Result<Option<Timestamp>> {
    let seconds = match claims.get(claim) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(_) => None,
    };
    seconds
        .map(|s| Some(Timestamp::from_millis(s.saturating_mul(1000))))
        .ok_or(Error::InvalidClaim {
            claim,
            reason: "must be a whole number of seconds since 1970",
        })
}

fn string_claim<'a>(claims: &'a Map<String, Value>, claim: &'static str) -> Result<&'a str> {
    match claims.get(claim) {
        None | Some(Value::Null) => Err(Error::InvalidClaim {
            claim,
            reason: "is missing",
        }),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Error::InvalidClaim {
            claim,
            reason: "must be a string",
        }),
    }
}

/// The payload pm writes; see the module docs.
#[derive(Serialize)]
struct WireClaims<'a> {
    sub: &'a str,
    tenant_id: &'a str,
    role: &'static str,
    iat: i64,
    exp: i64,
}

/// Issues tokens with the configured key: HS256 with the shared secret, or RS256 with the private
/// key. Used by `pm-server token`, the development setup and tests.
#[derive(Debug, Clone)]
pub struct Signer {
    algorithm: Algorithm,
    key: EncodingKey,
}

impl Signer {
    /// A signer for the configured keys. Fails with [`Error::Key`] if they are unusable, or if an
    /// RS256 configuration has no private key or a private key from another pair.
    pub fn new(keys: &KeyConfig) -> Result<Self> {
        Ok(Self {
            algorithm: keys.algorithm(),
            key: keys.encoding_key()?,
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// A token for `user` in `tenant` with `role`, valid from now for `ttl` (rounded up to whole
    /// seconds).
    pub fn issue(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: TenantRole,
        ttl: Duration,
    ) -> Result<String> {
        self.issue_at(tenant, user, role, ttl, Timestamp::now())
    }

    /// Like [`Signer::issue`], as if the clock read `now`: for tests and for tokens that must expire
    /// at a known instant.
    pub fn issue_at(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: TenantRole,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<String> {
        let issued_at = now.as_millis().div_euclid(1000);
        let ttl_secs = ttl
            .as_secs()
            .saturating_add(u64::from(ttl.subsec_nanos() > 0));
        let claims = WireClaims {
            sub: user.as_str(),
            tenant_id: tenant.as_str(),
            role: role.as_str(),
            iat: issued_at,
            exp: issued_at.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm.jwt()), &claims, &self.key)
            .map_err(Error::Signing)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::KeyError;
    use crate::key::tests::{PRIVATE_A, PRIVATE_B, PUBLIC_A, PUBLIC_B, rs256};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const HOUR: Duration = Duration::from_secs(3600);
    /// A fixed "now", in seconds, for tokens whose validity must be exact.
    const T0: i64 = 1_700_000_000;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_millis(seconds * 1000)
    }

    fn hs256() -> KeyConfig {
        KeyConfig::Hs256 {
            secret: SECRET.to_vec(),
        }
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    fn alice() -> UserId {
        UserId::parse("alice@example.com").unwrap()
    }

    /// A payload with every claim valid at `T0`, to be altered by each test.
    fn claims() -> Value {
        json!({
            "sub": "alice@example.com",
            "tenant_id": "acme",
            "role": "editor",
            "iat": T0,
            "exp": T0 + 3600,
        })
    }

    /// Signs any payload with any algorithm and key, as an issuer (or an attacker) could.
    fn sign(alg: jsonwebtoken::Algorithm, key: &EncodingKey, payload: &impl Serialize) -> String {
        jsonwebtoken::encode(&Header::new(alg), payload, key).unwrap()
    }

    fn sign_hs256(payload: &Value) -> String {
        sign(
            jsonwebtoken::Algorithm::HS256,
            &EncodingKey::from_secret(SECRET),
            payload,
        )
    }

    fn b64(json: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
    }

    fn verify_hs256(token: &str) -> Result<Identity> {
        Verifier::new(&hs256()).unwrap().verify_at(token, at(T0))
    }

    fn assert_invalid_claim(result: Result<Identity>, expected: &str) {
        match result {
            Err(Error::InvalidClaim { claim, .. }) if claim == expected => {}
            other => panic!("expected InvalidClaim {{ claim: {expected:?} }}, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_hs256_token_yields_the_identity_it_was_issued_for() {
        let signer = Signer::new(&hs256()).unwrap();
        let token = signer
            .issue_at(&acme(), &alice(), TenantRole::Editor, HOUR, at(T0))
            .unwrap();
        let identity = Verifier::new(&hs256())
            .unwrap()
            .verify_at(&token, at(T0 + 60))
            .unwrap();
        assert_eq!(
            identity,
            Identity {
                tenant: acme(),
                user: alice(),
                role: TenantRole::Editor,
                expires_at: at(T0 + 3600),
            }
        );
    }

    #[test]
    fn a_token_issued_now_is_accepted_now() {
        let token = Signer::new(&hs256())
            .unwrap()
            .issue(&acme(), &alice(), TenantRole::Admin, HOUR)
            .unwrap();
        let identity = Verifier::new(&hs256()).unwrap().verify(&token).unwrap();
        assert_eq!(identity.role, TenantRole::Admin);
        assert!(identity.expires_at > Timestamp::now());
    }

    #[test]
    fn a_valid_rs256_token_yields_the_identity_it_was_issued_for() {
        let keys = rs256(PUBLIC_A, Some(PRIVATE_A));
        let token = Signer::new(&keys)
            .unwrap()
            .issue_at(&acme(), &alice(), TenantRole::Viewer, HOUR, at(T0))
            .unwrap();
        // A verifier needs only the public key.
        let identity = Verifier::new(&rs256(PUBLIC_A, None))
            .unwrap()
            .verify_at(&token, at(T0))
            .unwrap();
        assert_eq!(identity.tenant, acme());
        assert_eq!(identity.user, alice());
        assert_eq!(identity.role, TenantRole::Viewer);
        assert_eq!(identity.expires_at, at(T0 + 3600));
    }

    #[test]
    fn a_token_without_exp_is_refused() {
        let mut payload = claims();
        payload.as_object_mut().unwrap().remove("exp");
        assert_invalid_claim(verify_hs256(&sign_hs256(&payload)), "exp");

        payload["exp"] = Value::Null;
        assert_invalid_claim(verify_hs256(&sign_hs256(&payload)), "exp");
    }

    #[test]
    fn times_that_are_not_whole_seconds_are_refused_naming_the_claim() {
        for (claim, value) in [
            ("exp", json!("1700003600")),
            ("exp", json!(1_700_003_600.5)),
            ("exp", json!(u64::MAX)),
            ("nbf", json!(true)),
            ("iat", json!("yesterday")),
        ] {
            let mut payload = claims();
            payload[claim] = value;
            assert_invalid_claim(verify_hs256(&sign_hs256(&payload)), claim);
        }
    }

    #[test]
    fn an_expired_token_is_accepted_within_the_leeway_and_refused_beyond_it() {
        let token = sign_hs256(&claims());
        let exp = T0 + 3600;
        let verifier = Verifier::new(&hs256()).unwrap();
        assert_eq!(verifier.leeway_secs(), DEFAULT_LEEWAY_SECS);

        assert!(verifier.verify_at(&token, at(exp + 29)).is_ok());
        assert!(matches!(
            verifier.verify_at(&token, at(exp + 30)),
            Err(Error::Expired)
        ));
        assert!(matches!(
            verifier.verify_at(&token, at(exp + 3600)),
            Err(Error::Expired)
        ));

        let strict = verifier.with_leeway(0);
        assert!(
            strict
                .verify_at(&token, Timestamp::from_millis(exp * 1000 - 1))
                .is_ok()
        );
        assert!(matches!(
            strict.verify_at(&token, at(exp)),
            Err(Error::Expired)
        ));
    }

    #[test]
    fn a_token_whose_nbf_is_in_the_future_is_refused() {
        let mut payload = claims();
        payload["nbf"] = json!(T0 + 60);
        let token = sign_hs256(&payload);
        let verifier = Verifier::new(&hs256()).unwrap();

        assert!(matches!(
            verifier.verify_at(&token, at(T0)),
            Err(Error::NotYetValid)
        ));
        // Within the leeway, and from nbf on, it is accepted.
        assert!(verifier.verify_at(&token, at(T0 + 30)).is_ok());
        assert!(verifier.verify_at(&token, at(T0 + 60)).is_ok());
    }

    #[test]
    fn a_huge_leeway_saturates_instead_of_overflowing() {
        let verifier = Verifier::new(&hs256()).unwrap().with_leeway(u64::MAX);
        let mut payload = claims();
        payload["exp"] = json!(T0 - 1_000_000);
        payload["nbf"] = json!(i64::MAX);
        assert!(verifier.verify_at(&sign_hs256(&payload), at(T0)).is_ok());
        // Extreme values give an answer, not a panic.
        payload["exp"] = json!(i64::MIN);
        payload["nbf"] = json!(i64::MIN);
        assert!(verifier.verify_at(&sign_hs256(&payload), at(T0)).is_err());
        payload["exp"] = json!(i64::MAX);
        assert!(matches!(
            verifier.verify_at(&sign_hs256(&payload), Timestamp::from_millis(i64::MAX)),
            Err(Error::Expired)
        ));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let token = sign(
            jsonwebtoken::Algorithm::HS256,
            &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
            &claims(),
        );
        assert!(matches!(verify_hs256(&token), Err(Error::BadSignature)));
    }

    #[test]
    fn a_token_whose_payload_was_altered_is_refused() {
        let token = sign_hs256(&claims());
        let (header, rest) = token.split_once('.').unwrap();
        let (rest_payload, signature) = rest.split_once('.').unwrap();
        let mut promoted = claims();
        promoted["role"] = json!("admin");
        let forged = format!("{header}.{}.{signature}", b64(&promoted));
        assert!(matches!(verify_hs256(&forged), Err(Error::BadSignature)));

        let mut altered = signature.as_bytes().to_vec();
        altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
        let altered = format!(
            "{header}.{rest_payload}.{}",
            String::from_utf8(altered).unwrap()
        );
        assert!(matches!(verify_hs256(&altered), Err(Error::BadSignature)));
    }

    #[test]
    fn a_token_signed_with_another_rsa_key_is_refused() {
        let token = Signer::new(&rs256(PUBLIC_B, Some(PRIVATE_B)))
            .unwrap()
            .issue_at(&acme(), &alice(), TenantRole::Admin, HOUR, at(T0))
            .unwrap();
        let result = Verifier::new(&rs256(PUBLIC_A, None))
            .unwrap()
            .verify_at(&token, at(T0));
        assert!(matches!(result, Err(Error::BadSignature)), "{result:?}");
    }

    #[test]
    fn an_unsigned_token_with_alg_none_is_refused() {
        let payload = b64(&claims());
        for (alg, found) in [
            ("none", "none"),
            ("None", "unrecognised"),
            ("NONE", "unrecognised"),
        ] {
            let header = b64(&json!({ "alg": alg, "typ": "JWT" }));
            for token in [
                format!("{header}.{payload}."),
                format!("{header}.{payload}"),
            ] {
                let hs = Verifier::new(&hs256()).unwrap().verify_at(&token, at(T0));
                let rs = Verifier::new(&rs256(PUBLIC_A, None))
                    .unwrap()
                    .verify_at(&token, at(T0));
                for (result, expected) in [(hs, Algorithm::Hs256), (rs, Algorithm::Rs256)] {
                    match result {
                        Err(Error::AlgorithmMismatch {
                            expected: e,
                            found: f,
                        }) if e == expected && f == found => {}
                        // Two segments only is not a JWT at all.
                        Err(Error::Malformed) if token.matches('.').count() == 1 => {}
                        other => panic!("alg {alg:?} in {token:?}: {other:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn an_hs256_token_keyed_with_the_rsa_public_key_is_refused_by_an_rs256_verifier() {
        // The classic algorithm confusion: the attacker knows the public key and uses its PEM
        // bytes as an HMAC secret, hoping the verifier feeds "its key" to whatever `alg` says.
        let mut payload = claims();
        payload["role"] = json!("admin");
        let forged = sign(
            jsonwebtoken::Algorithm::HS256,
            &EncodingKey::from_secret(PUBLIC_A.as_bytes()),
            &payload,
        );
        // The forgery is a genuine HS256 token under that "secret"…
        let naive = Verifier::new(&KeyConfig::Hs256 {
            secret: PUBLIC_A.as_bytes().to_vec(),
        })
        .unwrap();
        assert!(naive.verify_at(&forged, at(T0)).is_ok());
        // …and the RS256 verifier refuses it on the header alone.
        let result = Verifier::new(&rs256(PUBLIC_A, None))
            .unwrap()
            .verify_at(&forged, at(T0));
        assert!(
            matches!(
                result,
                Err(Error::AlgorithmMismatch {
                    expected: Algorithm::Rs256,
                    found: "HS256"
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn an_rs256_token_is_refused_by_an_hs256_verifier() {
        let token = sign(
            jsonwebtoken::Algorithm::RS256,
            &EncodingKey::from_rsa_pem(PRIVATE_A.as_bytes()).unwrap(),
            &claims(),
        );
        let result = verify_hs256(&token);
        assert!(
            matches!(
                result,
                Err(Error::AlgorithmMismatch {
                    expected: Algorithm::Hs256,
                    found: "RS256"
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn another_hmac_strength_is_refused_even_with_the_right_secret() {
        let token = sign(
            jsonwebtoken::Algorithm::HS512,
            &EncodingKey::from_secret(SECRET),
            &claims(),
        );
        assert!(matches!(
            verify_hs256(&token),
            Err(Error::AlgorithmMismatch {
                expected: Algorithm::Hs256,
                found: "HS512"
            })
        ));
    }

    #[test]
    fn an_empty_token_is_missing() {
        for token in ["", "   "] {
            assert!(
                matches!(verify_hs256(token), Err(Error::Missing)),
                "{token:?}"
            );
        }
    }

    #[test]
    fn strings_that_are_not_jwts_are_refused_as_malformed_without_panicking() {
        let valid = sign_hs256(&claims());
        let (header, rest) = valid.split_once('.').unwrap();
        let huge = format!("{valid}{}", "A".repeat(MAX_TOKEN_BYTES));
        let cases = [
            "a.b".to_owned(),
            "garbage".to_owned(),
            "a.b.c".to_owned(),
            "a.b.c.d".to_owned(),
            "..".to_owned(),
            "...".to_owned(),
            "é.é.é".to_owned(),
            "\0.\0.\0".to_owned(),
            header.to_owned(),
            format!("{valid}.{rest}"),
            // A header that is base64 but not JSON, and JSON but not an object.
            format!("{}.{rest}", URL_SAFE_NO_PAD.encode("not json")),
            format!("{}.{rest}", b64(&json!(["HS256"]))),
            // Padding is not allowed in JWT segments.
            format!("{header}=.{rest}"),
            huge,
        ];
        for token in &cases {
            let result = verify_hs256(token);
            assert!(
                matches!(result, Err(Error::Malformed)),
                "{token:?}: {result:?}"
            );
        }
    }

    #[test]
    fn a_correctly_signed_payload_that_is_not_a_json_object_is_malformed() {
        for payload in [json!(["sub", "alice"]), json!("alice"), json!(42)] {
            let token = sign_hs256(&payload);
            assert!(
                matches!(verify_hs256(&token), Err(Error::Malformed)),
                "{payload}"
            );
        }
    }

    #[test]
    fn a_header_with_critical_extensions_is_refused() {
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.crit = Some(vec!["exp".to_owned()]);
        let token =
            jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(SECRET)).unwrap();
        assert!(matches!(verify_hs256(&token), Err(Error::Malformed)));
    }

    #[test]
    fn claim_values_that_pm_core_refuses_are_refused_naming_the_claim() {
        for (claim, value) in [
            ("tenant_id", json!("../x")),
            ("tenant_id", json!("Acme")),
            ("tenant_id", json!("")),
            ("tenant_id", json!(7)),
            ("role", json!("owner")),
            ("role", json!("Admin")),
            ("role", json!(["admin"])),
            ("sub", json!("")),
            ("sub", json!(" alice")),
            ("sub", json!(42)),
        ] {
            let mut payload = claims();
            payload[claim] = value;
            assert_invalid_claim(verify_hs256(&sign_hs256(&payload)), claim);
        }
    }

    #[test]
    fn missing_identity_claims_are_refused_naming_the_claim() {
        for claim in ["sub", "tenant_id", "role"] {
            let mut payload = claims();
            payload.as_object_mut().unwrap().remove(claim);
            assert_invalid_claim(verify_hs256(&sign_hs256(&payload)), claim);
        }
    }

    #[test]
    fn unknown_claims_are_ignored() {
        let mut payload = claims();
        payload["iss"] = json!("https://idp.example.com");
        payload["aud"] = json!("someone-else");
        payload["scope"] = json!(["x"]);
        assert!(verify_hs256(&sign_hs256(&payload)).is_ok());
    }

    #[test]
    fn error_messages_never_contain_token_text() {
        let mut bad_tenant = claims();
        bad_tenant["tenant_id"] = json!("../secret-tenant-name");
        let mut bad_role = claims();
        bad_role["role"] = json!("secret-role-name");
        let mut expired = claims();
        expired["exp"] = json!(T0 - 3600);
        let tokens = [
            sign_hs256(&bad_tenant),
            sign_hs256(&bad_role),
            sign_hs256(&expired),
            sign(
                jsonwebtoken::Algorithm::HS256,
                &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
                &claims(),
            ),
            format!(
                "{}.{}.",
                b64(&json!({ "alg": "secret-alg-name" })),
                b64(&claims())
            ),
            "secret-garbage-text".to_owned(),
        ];
        for token in &tokens {
            let err = verify_hs256(token).unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains("secret"), "{shown}");
                for segment in token.split('.').filter(|s| s.len() >= 8) {
                    assert!(!shown.contains(segment), "{shown} repeats {segment}");
                }
            }
        }
    }

    #[test]
    fn unusable_keys_are_refused_when_the_verifier_or_signer_is_built() {
        let short = KeyConfig::Hs256 {
            secret: vec![1; 16],
        };
        assert!(matches!(
            Verifier::new(&short),
            Err(Error::Key(KeyError::SecretTooShort { len: 16, min: 32 }))
        ));
        assert!(matches!(
            Signer::new(&short),
            Err(Error::Key(KeyError::SecretTooShort { len: 16, min: 32 }))
        ));
        assert!(matches!(
            Signer::new(&rs256(PUBLIC_A, None)),
            Err(Error::Key(KeyError::NoPrivateKey))
        ));
    }

    #[test]
    fn a_sub_second_ttl_is_rounded_up_to_a_whole_second() {
        let token = Signer::new(&hs256())
            .unwrap()
            .issue_at(
                &acme(),
                &alice(),
                TenantRole::Viewer,
                Duration::from_millis(1),
                at(T0),
            )
            .unwrap();
        let identity = Verifier::new(&hs256())
            .unwrap()
            .with_leeway(0)
            .verify_at(&token, at(T0))
            .unwrap();
        assert_eq!(identity.expires_at, at(T0 + 1));
    }
}
