//! The plugin's configuration: the admin's `[plugins.<name>.config]` values
//! over the defaults in the plugin's own `plugin.toml` `[config]` table.

use crate::PluginError;
use crate::wit::base::switchboard::plugin::host;

/// A configuration value as a string (non-string TOML values arrive as JSON).
pub fn get(key: &str) -> Option<String> {
    host::config_get(key)
}

/// A configuration value, or `default` when unset or empty.
pub fn get_or(key: &str, default: &str) -> String {
    get(key)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// A configuration value that must be set and non-empty; otherwise an
/// `internal` error naming the key (a misconfiguration is the admin's to fix).
pub fn require(key: &str) -> Result<String, PluginError> {
    get(key)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| PluginError::internal(format!("configuration key `{key}` is not set")))
}

/// A configuration value parsed with `FromStr` (numbers, booleans...).
/// `Ok(None)` when unset.
pub fn parse<T: std::str::FromStr>(key: &str) -> Result<Option<T>, PluginError> {
    match get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(raw) => raw.trim().parse().map(Some).map_err(|_| {
            PluginError::internal(format!("configuration key `{key}` has an invalid value"))
        }),
    }
}

/// A structured configuration value (a TOML table or array, which the host
/// passes as JSON) deserialized into `T`. `Ok(None)` when unset.
pub fn json<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>, PluginError> {
    match get(key) {
        None => Ok(None),
        Some(raw) => serde_json::from_str(&raw).map(Some).map_err(|e| {
            PluginError::internal(format!("configuration key `{key}` is not valid: {e}"))
        }),
    }
}

/// A list configuration value: accepts a TOML array of strings or a
/// comma-separated string.
pub fn list(key: &str) -> Vec<String> {
    let Some(raw) = get(key) else {
        return Vec::new();
    };
    if let Ok(items) = serde_json::from_str::<Vec<String>>(&raw) {
        return items;
    }
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}
