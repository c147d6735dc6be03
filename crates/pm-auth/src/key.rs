use std::fmt;

use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;

use crate::KeyError;

/// The shortest HS256 secret pm accepts. RFC 7518 §3.2 requires a key at least as long as the
/// hash output (256 bits); anything shorter is a password, and passwords can be brute-forced offline
/// from a single captured token.
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// How many bytes [`generate_hs256_secret`] produces: one SHA-256 block. HMAC hashes longer keys
/// down to 32 bytes first, so more would add nothing.
const GENERATED_SECRET_BYTES: usize = 64;

/// The smallest RSA modulus pm accepts, per current NIST guidance (SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// The one signature algorithm a deployment uses. A verifier accepts tokens of its own algorithm
/// only; nothing is negotiated from the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA256 with a shared secret: the server can both issue and verify.
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: an identity provider holds the private key, pm needs only
    /// the public key (and the private key too if it should issue tokens itself).
    Rs256,
}

impl Algorithm {
    /// The JWS name, as written in a token header's `alg`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
        }
    }

    pub(crate) const fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Hs256 => jsonwebtoken::Algorithm::HS256,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The keys of a deployment, as read from configuration. Build a [`Verifier`](crate::Verifier)
/// and, where the server issues tokens, a [`Signer`](crate::Signer) from it; both check the keys
/// when they are built, so a bad configuration fails at startup rather than on every request.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyConfig {
    /// A shared secret of at least [`MIN_HS256_SECRET_BYTES`] random bytes.
    Hs256 { secret: Vec<u8> },
    /// PEM-encoded RSA keys of at least [`MIN_RSA_BITS`] bits. The public key may be SPKI
    /// (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`); the private key PKCS#8
    /// (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), unencrypted.
    Rs256 {
        public_key_pem: Vec<u8>,
        private_key_pem: Option<Vec<u8>>,
    },
}

impl KeyConfig {
    pub const fn algorithm(&self) -> Algorithm {
        match self {
            Self::Hs256 { .. } => Algorithm::Hs256,
            Self::Rs256 { .. } => Algorithm::Rs256,
        }
    }

    /// The key that checks signatures, after checking that the configuration is usable.
    pub(crate) fn decoding_key(&self) -> Result<DecodingKey, KeyError> {
        match self {
            Self::Hs256 { secret } => {
                check_secret(secret)?;
                Ok(DecodingKey::from_secret(secret))
            }
            Self::Rs256 {
                public_key_pem,
                private_key_pem,
            } => {
                let (key, modulus) = rsa_public_key(public_key_pem)?;
                if let Some(private_key_pem) = private_key_pem {
                    let (_, private_modulus) = rsa_private_key(private_key_pem)?;
                    if private_modulus != modulus {
                        return Err(KeyError::KeyPairMismatch);
                    }
                }
                Ok(key)
            }
        }
    }

    /// The key that signs tokens, after checking that the configuration is usable.
    pub(crate) fn encoding_key(&self) -> Result<EncodingKey, KeyError> {
        match self {
            Self::Hs256 { secret } => {
                check_secret(secret)?;
                Ok(EncodingKey::from_secret(secret))
            }
            Self::Rs256 {
                public_key_pem,
                private_key_pem,
            } => {
                let private_key_pem = private_key_pem.as_ref().ok_or(KeyError::NoPrivateKey)?;
                // Checking the public key too means a server never issues tokens that its own
                // verifier would refuse.
                let (_, modulus) = rsa_public_key(public_key_pem)?;
                let (key, private_modulus) = rsa_private_key(private_key_pem)?;
                if private_modulus != modulus {
                    return Err(KeyError::KeyPairMismatch);
                }
                Ok(key)
            }
        }
    }
}

/// Keys are secrets: `Debug` names the variant and hides the bytes.
impl fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hs256 { secret } => f
                .debug_struct("Hs256")
                .field("secret", &format_args!("[{} bytes redacted]", secret.len()))
                .finish(),
            Self::Rs256 {
                public_key_pem,
                private_key_pem,
            } => f
                .debug_struct("Rs256")
                .field(
                    "public_key_pem",
                    &format_args!("[{} bytes]", public_key_pem.len()),
                )
                .field(
                    "private_key_pem",
                    &private_key_pem.as_ref().map(|_| "[redacted]"),
                )
                .finish(),
        }
    }
}

/// A fresh random HS256 secret of 64 bytes, from the thread-local CSPRNG (ChaCha seeded by the
/// operating system). The server stores one in its data directory on first run as a development
/// key.
pub fn generate_hs256_secret() -> Vec<u8> {
    let mut secret = vec![0; GENERATED_SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    secret
}

fn check_secret(secret: &[u8]) -> Result<(), KeyError> {
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(KeyError::SecretTooShort {
            len: secret.len(),
            min: MIN_HS256_SECRET_BYTES,
        });
    }
    Ok(())
}

/// Parses a public key PEM fully (jsonwebtoken only unwraps the PEM and would otherwise defer the
/// DER parsing to the first verification) and returns the key with its modulus.
fn rsa_public_key(pem: &[u8]) -> Result<(DecodingKey, Vec<u8>), KeyError> {
    let key = DecodingKey::from_rsa_pem(pem).map_err(|_| KeyError::InvalidPublicKey)?;
    let der = key
        .try_get_as_bytes()
        .map_err(|_| KeyError::InvalidPublicKey)?;
    let (modulus, _exponent) = (DEFAULT_PROVIDER
        .key_utils
        .rsa_pub_components_from_public_key)(der)
    .map_err(|_| KeyError::InvalidPublicKey)?;
    check_modulus(&modulus)?;
    Ok((key, modulus))
}

/// Like [`rsa_public_key`], for the private key; the modulus identifies the pair.
fn rsa_private_key(pem: &[u8]) -> Result<(EncodingKey, Vec<u8>), KeyError> {
    let key = EncodingKey::from_rsa_pem(pem).map_err(|_| KeyError::InvalidPrivateKey)?;
    let (modulus, _exponent) = (DEFAULT_PROVIDER
        .key_utils
        .rsa_pub_components_from_private_key)(key.as_bytes())
    .map_err(|_| KeyError::InvalidPrivateKey)?;
    check_modulus(&modulus)?;
    Ok((key, modulus))
}

fn check_modulus(modulus_be: &[u8]) -> Result<(), KeyError> {
    let bits = match modulus_be.iter().position(|&b| b != 0) {
        Some(first) => {
            let significant = &modulus_be[first..];
            (significant.len() - 1) * 8 + (8 - significant[0].leading_zeros() as usize)
        }
        None => 0,
    };
    if bits < MIN_RSA_BITS {
        return Err(KeyError::WeakRsaKey {
            bits,
            min: MIN_RSA_BITS,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const PUBLIC_A: &str = include_str!("../tests/keys/rsa-a-public.pem");
    pub(crate) const PRIVATE_A: &str = include_str!("../tests/keys/rsa-a-private.pem");
    pub(crate) const PUBLIC_B: &str = include_str!("../tests/keys/rsa-b-public.pem");
    pub(crate) const PRIVATE_B: &str = include_str!("../tests/keys/rsa-b-private.pem");
    const WEAK_PUBLIC: &str = include_str!("../tests/keys/rsa-weak-1024-public.pem");

    pub(crate) fn rs256(public: &str, private: Option<&str>) -> KeyConfig {
        KeyConfig::Rs256 {
            public_key_pem: public.as_bytes().to_vec(),
            private_key_pem: private.map(|p| p.as_bytes().to_vec()),
        }
    }

    #[test]
    fn an_hs256_secret_shorter_than_32_bytes_is_refused_for_verifying_and_signing() {
        let short = KeyConfig::Hs256 {
            secret: vec![7; 31],
        };
        let expected = KeyError::SecretTooShort { len: 31, min: 32 };
        assert_eq!(short.decoding_key().unwrap_err(), expected);
        assert_eq!(short.encoding_key().unwrap_err(), expected);
        assert!(
            expected.to_string().contains("at least 32"),
            "the message should say what is needed: {expected}"
        );

        let enough = KeyConfig::Hs256 {
            secret: vec![7; 32],
        };
        assert!(enough.decoding_key().is_ok());
        assert!(enough.encoding_key().is_ok());
    }

    #[test]
    fn generated_secrets_are_long_enough_and_differ_each_time() {
        let first = generate_hs256_secret();
        let second = generate_hs256_secret();
        assert!(first.len() >= MIN_HS256_SECRET_BYTES);
        assert_ne!(first, second);
        assert!(KeyConfig::Hs256 { secret: first }.decoding_key().is_ok());
    }

    #[test]
    fn an_rsa_key_pair_is_accepted_for_verifying_and_signing() {
        let config = rs256(PUBLIC_A, Some(PRIVATE_A));
        assert!(config.decoding_key().is_ok());
        assert!(config.encoding_key().is_ok());
    }

    #[test]
    fn a_public_key_alone_verifies_but_cannot_sign() {
        let config = rs256(PUBLIC_A, None);
        assert!(config.decoding_key().is_ok());
        assert_eq!(config.encoding_key().unwrap_err(), KeyError::NoPrivateKey);
    }

    #[test]
    fn a_private_key_from_another_pair_is_refused() {
        let config = rs256(PUBLIC_A, Some(PRIVATE_B));
        assert_eq!(
            config.decoding_key().unwrap_err(),
            KeyError::KeyPairMismatch
        );
        assert_eq!(
            config.encoding_key().unwrap_err(),
            KeyError::KeyPairMismatch
        );
    }

    #[test]
    fn text_that_is_not_an_rsa_public_key_is_refused_at_configuration_time() {
        for bad in [
            "",
            "not a pem",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            // A private key where the public key belongs must not slip through to fail every
            // verification later.
            PRIVATE_A,
        ] {
            assert_eq!(
                rs256(bad, None).decoding_key().unwrap_err(),
                KeyError::InvalidPublicKey,
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn text_that_is_not_an_rsa_private_key_is_refused_at_configuration_time() {
        for bad in ["", "not a pem", PUBLIC_A] {
            assert_eq!(
                rs256(PUBLIC_A, Some(bad)).encoding_key().unwrap_err(),
                KeyError::InvalidPrivateKey,
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn rsa_keys_shorter_than_2048_bits_are_refused() {
        assert_eq!(
            rs256(WEAK_PUBLIC, None).decoding_key().unwrap_err(),
            KeyError::WeakRsaKey {
                bits: 1024,
                min: 2048
            }
        );
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let hs = format!(
            "{:?}",
            KeyConfig::Hs256 {
                secret: b"super-secret-super-secret-super-secret".to_vec()
            }
        );
        assert!(!hs.contains("super-secret"), "{hs}");
        let rs = format!("{:?}", rs256(PUBLIC_A, Some(PRIVATE_A)));
        assert!(!rs.contains("PRIVATE"), "{rs}");
        assert!(!rs.contains("MII"), "{rs}");
    }
}
