//! Development only: a generated HS256 secret kept under the data directory, so `serve` and `token` agree.

use std::{fs, io::Write, path::Path};

use base64::Engine;
use rand::RngCore;

use crate::config::{Config, Secret};

const FILE_NAME: &str = "dev-jwt-secret";

/// In development with no way to verify tokens configured, loads or creates the secret file and uses it.
/// Returns the file's path when it did.
pub fn ensure(config: &mut Config) -> std::io::Result<Option<std::path::PathBuf>> {
    if config.is_production() || !config.has_no_token_verification() {
        return Ok(None);
    }
    let path = config.data_dir.join(FILE_NAME);
    let secret = match fs::read_to_string(&path) {
        Ok(existing) if existing.trim().len() >= 32 => existing.trim().to_string(),
        _ => create(&path)?,
    };
    config.jwt_secret = Some(Secret::new(secret));
    Ok(Some(path))
}

fn create(path: &Path) -> std::io::Result<String> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_without_keys_creates_an_owner_only_secret_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let vars = [("DATA_DIR", dir.path().to_str().unwrap())];
        let mut first = Config::from_vars(vars).unwrap();
        let path = ensure(&mut first).unwrap().expect("a secret file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let mut second = Config::from_vars(vars).unwrap();
        ensure(&mut second).unwrap();
        assert_eq!(first.jwt_secret, second.jwt_secret);
        assert!(first.jwt_secret.unwrap().expose().len() >= 32);
    }

    #[test]
    fn a_configured_secret_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::from_vars([
            ("DATA_DIR", dir.path().to_str().unwrap()),
            ("JWT_SECRET", "configured-secret"),
        ])
        .unwrap();
        assert!(ensure(&mut config).unwrap().is_none());
        assert_eq!(config.jwt_secret.unwrap().expose(), "configured-secret");
    }
}
