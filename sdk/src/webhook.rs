//! Parsing helpers for webhook bodies. Each turns a malformed body into a
//! `bad-request` [`PluginError`], which the host answers with 400 and stores
//! nothing.

use crate::PluginError;

/// Parses a JSON body.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PluginError> {
    serde_json::from_slice(body)
        .map_err(|e| PluginError::bad_request(format!("invalid JSON body: {e}")))
}

/// Parses an `application/x-www-form-urlencoded` body into ordered pairs.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, PluginError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| PluginError::bad_request(format!("invalid form body: {e}")))
}

/// The value of a form field.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The value of a required form field, or a `bad-request` error naming it.
pub fn required_field<'a>(
    form: &'a [(String, String)],
    name: &str,
) -> Result<&'a str, PluginError> {
    field(form, name).ok_or_else(|| PluginError::bad_request(format!("missing field `{name}`")))
}
