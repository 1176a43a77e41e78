//! The plugin's own key-value store (needs `kv = true` in the manifest).
//! Namespaced per plugin: no other plugin can read it. Values survive calls,
//! reloads and restarts.
//!
//! Records about one customer: a channel that keys them with her handle on
//! the channel as the last `/`-separated part (`replies/<session id>`) has
//! them deleted when an admin erases her. Anything else that names a
//! customer must be cleared by the plugin itself.

use crate::HostError;
use crate::wit::base::switchboard::plugin::host;

/// Reads a value.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, HostError> {
    host::kv_get(key)
}

/// Writes a value (at most 1 MiB).
pub fn set(key: &str, value: &[u8]) -> Result<(), HostError> {
    host::kv_set(key, value)
}

/// Deletes a key; a missing key is not an error.
pub fn delete(key: &str) -> Result<(), HostError> {
    host::kv_delete(key)
}

/// Reads a JSON value. A value that no longer deserializes reads as `None`.
pub fn get_json<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>, HostError> {
    Ok(get(key)?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Writes a value as JSON.
pub fn set_json<T: serde::Serialize>(key: &str, value: &T) -> Result<(), HostError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| HostError::Invalid(format!("not serializable: {e}")))?;
    set(key, &bytes)
}
