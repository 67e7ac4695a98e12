//! Where ordo's two secrets come from, for `ordo serve` and for the CLI:
//! the cluster secret (`--cluster-secret-file` or `ORDO_CLUSTER_SECRET`)
//! and the API token (`--api-token-file` or `ORDO_API_TOKEN`). Each is read
//! once, at start-up; a file's content is trimmed. An empty secret, an
//! unreadable file or both sources at once is an error, never "no secret":
//! a node that silently ran open would be worse than one that does not start.

use std::path::Path;

use anyhow::Context;
use ordo_api::secret::Secret;

/// The cluster secret itself (the flag takes a file, never the secret:
/// a process's arguments are visible to every user of the machine).
pub const CLUSTER_SECRET_ENV: &str = "ORDO_CLUSTER_SECRET";
/// The API token itself, for `ordo serve` and every CLI command.
pub const API_TOKEN_ENV: &str = "ORDO_API_TOKEN";
/// A CLI client's token itself (any principal's; wins over
/// [`API_TOKEN_ENV`]).
pub const TOKEN_ENV: &str = "ORDO_TOKEN";

/// One secret setting and the names to use in its errors.
pub struct SecretSetting<'a> {
    /// The flag that names a file, e.g. `--cluster-secret-file`.
    pub flag: &'static str,
    /// The environment variable that holds the secret itself.
    pub env: &'static str,
    /// The file from the flag (or its `_FILE` environment variable).
    pub file: Option<&'a Path>,
    /// The secret from `env`, already read with [`from_env`].
    pub value: Option<Secret>,
    /// The file named in a config file: used only when neither of the
    /// above is set (flags and environment win over the config file).
    pub config_file: Option<&'a Path>,
}

impl SecretSetting<'_> {
    /// The secret, if one is set.
    pub fn resolve(self) -> anyhow::Result<Option<Secret>> {
        match (self.file, self.value, self.config_file) {
            (Some(_), Some(_), _) => anyhow::bail!(
                "both {} and {} are set; set one of them",
                self.flag,
                self.env
            ),
            (Some(file), None, _) => read_file(self.flag, file).map(Some),
            (None, Some(value), _) => Ok(Some(value)),
            (None, None, Some(file)) => read_file(self.flag, file).map(Some),
            (None, None, None) => Ok(None),
        }
    }
}

/// The secret in environment variable `name`, if it is set. Set but empty
/// (e.g. `ORDO_CLUSTER_SECRET=$UNSET_VAR`) is an error.
pub fn from_env(name: &str) -> anyhow::Result<Option<Secret>> {
    match std::env::var(name) {
        Ok(text) => Secret::new(&text)
            .map(Some)
            .with_context(|| format!("{name} is not a usable secret")),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("{name} is not a usable secret: it is not valid Unicode")
        }
    }
}

fn read_file(flag: &str, path: &Path) -> anyhow::Result<Secret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {flag} {}", path.display()))?;
    Secret::new(&text)
        .with_context(|| format!("the {flag} {} is not a usable secret", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting<'a>(
        file: Option<&'a Path>,
        value: Option<&str>,
        config_file: Option<&'a Path>,
    ) -> SecretSetting<'a> {
        SecretSetting {
            flag: "--cluster-secret-file",
            env: CLUSTER_SECRET_ENV,
            file,
            value: value.map(|v| Secret::new(v).unwrap()),
            config_file,
        }
    }

    #[test]
    fn a_secret_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret\n").unwrap();
        let secret = setting(Some(&file), None, None).resolve().unwrap().unwrap();
        assert_eq!(secret.expose(), "s3cret");
    }

    #[test]
    fn an_empty_or_missing_secret_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let error = setting(Some(&empty), None, None).resolve().unwrap_err();
        assert!(format!("{error:#}").contains("is empty"), "{error:#}");
        let missing = dir.path().join("missing");
        let error = setting(Some(&missing), None, None).resolve().unwrap_err();
        assert!(format!("{error:#}").contains("reading the --cluster-secret-file"));
    }

    #[test]
    fn a_file_and_the_variable_together_are_refused_and_both_win_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-file").unwrap();
        let both = setting(Some(&file), Some("from-env"), None).resolve();
        assert!(both.is_err());
        let missing = dir.path().join("missing");
        // The config file's path is not even read when the variable is set.
        let env = setting(None, Some("from-env"), Some(&missing)).resolve();
        assert_eq!(env.unwrap().unwrap().expose(), "from-env");
        let config = setting(None, None, Some(&file)).resolve();
        assert_eq!(config.unwrap().unwrap().expose(), "from-file");
        assert!(setting(None, None, None).resolve().unwrap().is_none());
    }
}
