//! Authentication for pm: turns a bearer token (a JWT) into a validated [`Identity`] (tenant, user,
//! tenant role, expiry), and issues such tokens for development, tests and `pm-server token`.
//!
//! pm keeps no user table and no sessions. An identity provider, or the server's own [`Signer`],
//! issues a JWT signed with HS256 (a shared secret) or RS256 (an RSA key pair); a [`Verifier`] built
//! from the same [`KeyConfig`] accepts it. The verifier checks the header's `alg` against the
//! configured algorithm itself before any signature is checked, so `none` and algorithm-confusion
//! tokens never reach the cryptography.
//!
//! This crate must never know about HTTP, sockets, files or databases: it takes the text of a header
//! and returns values. Reading keys from disk, mapping [`Error`] to a status code or a protocol
//! error, and logging belong to `pm-server` and `pm-ws`. Error messages never contain token text, so
//! they are safe to log and to show to clients.

mod bearer;
mod error;
mod key;
mod token;

pub use bearer::{
    BEARER_PROTOCOL_PREFIX, PROTOCOL_NAME, bearer_from_header, offers_protocol,
    token_from_subprotocols,
};
pub use error::{Error, KeyError, Result};
pub use key::{Algorithm, KeyConfig, MIN_HS256_SECRET_BYTES, MIN_RSA_BITS, generate_hs256_secret};
pub use token::{DEFAULT_LEEWAY_SECS, Identity, MAX_TOKEN_BYTES, Signer, Verifier};
