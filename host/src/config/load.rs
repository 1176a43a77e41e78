//! Loading the configuration: defaults, then the file, then `SWITCHBOARD_*`
//! environment variables, then `--set` flags, each checked against the
//! schema with the file, line and key at fault.

use std::path::{Path, PathBuf};

use super::Config;

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown or mistyped key; the
    /// message carries the line, column and key.
    #[error("invalid config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and key.
        message: String,
    },
    /// An environment variable or `--set` flag does not fit the schema.
    #[error("invalid override {source_name}: {message}")]
    Override {
        /// The variable or flag.
        source_name: String,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Loads the configuration: defaults, then the file (if any), then
    /// `SWITCHBOARD_*` variables from `env`, then `sets` (`key.path=value`).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        sets: &[String],
    ) -> Result<Config, ConfigError> {
        let text = file
            .map(|path| {
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            })
            .transpose()?;
        Config::from_text(file.zip(text.as_deref()), env, sets)
    }

    /// [`Config::load`] with the file already read: `file` is its path
    /// (named in errors) and its text.
    pub fn from_text(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
        sets: &[String],
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some((path, text)) => {
                // Deserializing the text directly (not via a Value) keeps the
                // line and column in errors about unknown or mistyped keys.
                toml::from_str::<Config>(text).map_err(|e| ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
                toml::from_str::<toml::Table>(text).map_err(|e| ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
            }
            None => toml::Table::new(),
        };

        let mut overrides: Vec<(String, Vec<String>, String)> = Vec::new();
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("SWITCHBOARD_") && k != "SWITCHBOARD_CONFIG")
            .collect();
        env.sort();
        for (name, value) in env {
            let path = name["SWITCHBOARD_".len()..]
                .split("__")
                .map(|s| s.to_ascii_lowercase())
                .collect();
            overrides.push((name, path, value));
        }
        for set in sets {
            let (key, value) = set.split_once('=').ok_or_else(|| ConfigError::Override {
                source_name: format!("--set {set}"),
                message: "expected KEY=VALUE".into(),
            })?;
            let path = key.trim().split('.').map(str::to_string).collect();
            overrides.push((format!("--set {key}"), path, value.to_string()));
        }
        for (source_name, path, value) in &overrides {
            insert_path(&mut table, path, parse_override(value)).map_err(|message| {
                ConfigError::Override {
                    source_name: source_name.clone(),
                    message,
                }
            })?;
        }
        if overrides.is_empty() {
            return Ok(toml::Value::Table(table)
                .try_into()
                .expect("validated above"));
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Override {
                source_name: overrides
                    .iter()
                    .map(|(n, _, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                message: e.to_string(),
            })
    }
}

fn parse_override(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    if path.iter().any(|p| p.is_empty()) {
        return Err("empty key segment".into());
    }
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{part}` is not a table"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MergePolicy;

    #[test]
    fn example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/switchboard.toml");
        let c = Config::load(Some(&path), Vec::new(), &[]).unwrap();
        assert_eq!(c.routing.router, "longest-idle");
        assert_eq!(c.routing.default_capacity.voice, 1);
        assert_eq!(c.customers.merge_policy, MergePolicy::Auto);
    }

    #[test]
    fn defaults_apply_without_file() {
        let c = Config::load(None, Vec::new(), &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.plugins_dir(), PathBuf::from("./switchboard-data/plugins"));
    }

    #[test]
    fn env_and_sets_override_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\n[runtime]\ndefault_timeout_ms = 700\n[plugins.whatsapp]\nconfig = { app_secret = \"file\" }\n",
        )
        .unwrap();
        let env = vec![
            (
                "SWITCHBOARD_RUNTIME__DEFAULT_TIMEOUT_MS".to_string(),
                "250".to_string(),
            ),
            (
                "SWITCHBOARD_PLUGINS__WHATSAPP__CONFIG__APP_SECRET".to_string(),
                "env".to_string(),
            ),
            (
                "SWITCHBOARD_PLUGINS__LONGEST_IDLE__ENABLED".to_string(),
                "false".to_string(),
            ),
            ("HOME".to_string(), "/root".to_string()),
        ];
        let c = Config::load(Some(&path), env, &["listen=127.0.0.1:9100".into()]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.runtime.default_timeout_ms, 250);
        assert_eq!(
            c.plugin("whatsapp").config["app_secret"].as_str(),
            Some("env")
        );
        assert!(!c.plugin("longest-idle").enabled);
    }

    #[test]
    fn bad_file_names_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\n\n[runtime]\ndefault_timout_ms = 5\n",
        )
        .unwrap();
        let err = Config::load(Some(&path), Vec::new(), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("default_timout_ms"), "{err}");

        std::fs::write(&path, "[runtime]\nmax_memory_mb = \"lots\"\n").unwrap();
        let err = Config::load(Some(&path), Vec::new(), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("max_memory_mb"),
            "{err}"
        );
    }

    #[test]
    fn bad_override_names_its_source() {
        let env = vec![(
            "SWITCHBOARD_RUNTIME__MAX_MEMORY_MB".to_string(),
            "lots".to_string(),
        )];
        let err = Config::load(None, env, &[]).unwrap_err().to_string();
        assert!(err.contains("SWITCHBOARD_RUNTIME__MAX_MEMORY_MB"), "{err}");
        let err = Config::load(None, Vec::new(), &["nonsense".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("KEY=VALUE"), "{err}");
    }
}
