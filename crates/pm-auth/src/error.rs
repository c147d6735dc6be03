use crate::Algorithm;

/// Why a token was refused, or why a key configuration cannot be used.
///
/// No variant carries text taken from a token (not even the claim values or the header's `alg`
/// verbatim), so every message is safe to log and to send back to the client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No token was presented at all.
    #[error("no bearer token was presented")]
    Missing,
    /// The text is not a JWT: not three base64url segments, or a header or payload that is not a
    /// JSON object, or a header that needs extensions pm does not implement (`crit`).
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// `exp` is in the past by more than the leeway.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future by more than the leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The signature does not match the header and payload under the configured key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// The header's `alg` is not the one algorithm this verifier accepts. `found` is the name of a
    /// registered JWS algorithm (`none`, `HS256`, …) or `unrecognised`; never the header's text.
    #[error("the token's algorithm is {found}, but only {expected} is accepted")]
    AlgorithmMismatch {
        expected: Algorithm,
        found: &'static str,
    },
    /// A claim is missing, has the wrong JSON type, or does not pass pm-core's parser.
    #[error("the token's {claim} claim {reason}")]
    InvalidClaim {
        claim: &'static str,
        reason: &'static str,
    },
    /// The configured keys cannot be used; a server configuration problem, not the client's.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Signing failed even though the key was accepted when the [`Signer`](crate::Signer) was built.
    #[error("the token could not be signed")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

/// A key configuration that pm refuses to use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the HS256 secret is {len} bytes long; at least {min} random bytes are required")]
    SecretTooShort { len: usize, min: usize },
    #[error("the RS256 public key is not a PEM-encoded RSA public key")]
    InvalidPublicKey,
    #[error("the RS256 private key is not a PEM-encoded RSA private key")]
    InvalidPrivateKey,
    #[error("the RSA key has {bits} bits; at least {min} are required")]
    WeakRsaKey { bits: usize, min: usize },
    #[error("the RS256 private key does not belong to the configured public key")]
    KeyPairMismatch,
    #[error("issuing RS256 tokens needs a private key, and none is configured")]
    NoPrivateKey,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
