//! The token keys the server verifies with (and `pm-server token` signs with).

use std::path::Path;

use anyhow::{Context, bail};
use pm_auth::KeyConfig;
use secrecy::ExposeSecret;

use crate::config::{Config, JwtAlgorithm};

/// Name of the development HS256 key inside the data directory.
pub const DEV_KEY_FILE: &str = "dev-signing-key";

/// Whether the server runs on the generated development key (no secret or RS256 key configured).
pub fn uses_dev_key(config: &Config) -> bool {
    config.jwt_algorithm == JwtAlgorithm::Hs256
        && config.jwt_secret.is_none()
        && config.jwt_secret_file.is_none()
}

/// The configured keys. With HS256 and no secret configured, a development key is generated
/// into the data directory on first use (and reused afterwards), with a warning: never a
/// hard-coded secret.
pub fn load(config: &Config) -> anyhow::Result<KeyConfig> {
    load_keys(config, DevKey::CreateIfMissing)
}

/// The configured keys, for signing beside a server (`pm-server token`): a missing development
/// key is an error naming where it was looked for, never a new key, because a token signed with a
/// key the server does not have is refused by it.
pub fn load_existing(config: &Config) -> anyhow::Result<KeyConfig> {
    load_keys(config, DevKey::MustExist)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DevKey {
    CreateIfMissing,
    MustExist,
}

fn load_keys(config: &Config, dev: DevKey) -> anyhow::Result<KeyConfig> {
    match config.jwt_algorithm {
        JwtAlgorithm::Hs256 => {
            let secret = if let Some(secret) = &config.jwt_secret {
                secret.expose_secret().to_vec()
            } else if let Some(file) = &config.jwt_secret_file {
                let mut bytes = std::fs::read(file)
                    .with_context(|| format!("jwt_secret_file: cannot read {}", file.display()))?;
                while bytes.last().is_some_and(u8::is_ascii_whitespace) {
                    bytes.pop();
                }
                bytes
            } else {
                dev_key(&config.data_dir, dev)?
            };
            Ok(KeyConfig::Hs256 { secret })
        }
        JwtAlgorithm::Rs256 => {
            let public = config
                .jwt_public_key_file
                .as_deref()
                .context("jwt_public_key_file is required with RS256")?;
            let public_key_pem = std::fs::read(public).with_context(|| {
                format!("jwt_public_key_file: cannot read {}", public.display())
            })?;
            let private_key_pem = config
                .jwt_private_key_file
                .as_deref()
                .map(|p| {
                    std::fs::read(p).with_context(|| {
                        format!("jwt_private_key_file: cannot read {}", p.display())
                    })
                })
                .transpose()?;
            Ok(KeyConfig::Rs256 {
                public_key_pem,
                private_key_pem,
            })
        }
    }
}

fn dev_key(data_dir: &Path, dev: DevKey) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join(DEV_KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if dev == DevKey::MustExist => {
            let dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
            bail!(
                "no signing key: cannot read the development key {} ({e}); the data directory \
                 looked in is {}. Point this command at the server's data directory with \
                 --data-dir, PM_DATA_DIR or --config, or at its configured key with \
                 --jwt-secret-file or PM_JWT_SECRET",
                path.display(),
                dir.display()
            );
        }
        Err(_) => {}
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("data_dir: cannot create {}", data_dir.display()))?;
    let secret = pm_auth::generate_hs256_secret();
    write_private(&path, &secret)
        .with_context(|| format!("cannot write the development key {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "generated a development signing key: for local use only; configure jwt_secret_file or RS256 keys in production"
    );
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
