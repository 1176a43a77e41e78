//! Webhook signature checks the providers use, computed with the `hmac`,
//! `sha1` and `sha2` crates and compared in constant time.
//!
//! A channel plugin verifies a request before it parses anything and answers
//! a missing or wrong signature with [`PluginError::unauthorized`] (the host
//! then answers 401 and stores nothing).

use base64::Engine as _;
use hmac::{Hmac, Mac};

use crate::PluginError;

type HmacSha256 = Hmac<sha2::Sha256>;
type HmacSha1 = Hmac<sha1::Sha1>;

/// HMAC-SHA256 of `message` with `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// SHA-256 of `bytes` (e.g. to spread keys over a fixed set of kv slots).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// HMAC-SHA1 of `message` with `key`.
pub fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut mac = HmacSha1::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Standard base64 (with padding) of `bytes`.
pub fn to_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Whether two secrets are equal, in time that depends only on their
/// lengths (not on where they first differ).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a hex HMAC-SHA256 (case-insensitive hex) of `message` with `key`,
/// in constant time. An unparsable signature is a mismatch.
pub fn verify_hmac_sha256_hex(key: &[u8], message: &[u8], signature_hex: &str) -> bool {
    let Ok(expected) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.verify_slice(&expected).is_ok()
}

/// Checks a base64 HMAC-SHA1 of `message` with `key`, in constant time.
pub fn verify_hmac_sha1_base64(key: &[u8], message: &[u8], signature_b64: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim())
    else {
        return false;
    };
    let mut mac = HmacSha1::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.verify_slice(&expected).is_ok()
}

/// Meta's `X-Hub-Signature-256` (WhatsApp Cloud API and other Graph
/// webhooks): `sha256=` + hex HMAC-SHA256 of the raw body with the app
/// secret.
pub fn verify_meta(app_secret: &str, body: &[u8], header: Option<&str>) -> Result<(), PluginError> {
    let header =
        header.ok_or_else(|| PluginError::unauthorized("missing X-Hub-Signature-256 header"))?;
    let hex = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or_else(|| PluginError::unauthorized("X-Hub-Signature-256 must start with sha256="))?;
    if verify_hmac_sha256_hex(app_secret.as_bytes(), body, hex) {
        Ok(())
    } else {
        Err(PluginError::unauthorized(
            "X-Hub-Signature-256 does not match",
        ))
    }
}

/// The string Twilio signs: the full URL it called, then every POST
/// parameter's name and value, sorted by name.
pub fn twilio_payload(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // Stable: repeated names keep their order, as Twilio's own libraries do.
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut payload = String::from(url);
    for (name, value) in sorted {
        payload.push_str(name);
        payload.push_str(value);
    }
    payload
}

/// Twilio's `X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the auth
/// token, of [`twilio_payload`].
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    to_base64(&hmac_sha1(
        auth_token.as_bytes(),
        twilio_payload(url, params).as_bytes(),
    ))
}

/// Verifies `X-Twilio-Signature` for a request Twilio made to `url` with
/// form `params` (empty for a `GET`).
pub fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: Option<&str>,
) -> Result<(), PluginError> {
    let header = header.ok_or_else(|| PluginError::unauthorized("missing X-Twilio-Signature"))?;
    let payload = twilio_payload(url, params);
    if verify_hmac_sha1_base64(auth_token.as_bytes(), payload.as_bytes(), header) {
        Ok(())
    } else {
        Err(PluginError::unauthorized(
            "X-Twilio-Signature does not match",
        ))
    }
}

/// Verifies a webhook Twilio sent to this host and returns its form
/// parameters. The signed URL is rebuilt from `public_base_url` (the address
/// Twilio was given, e.g. `https://cc.example.com`) plus the path and query
/// the host received; a `POST`'s form parameters are part of the signature.
/// A missing auth token refuses every request.
pub fn verify_twilio_request(
    request: &crate::HttpRequest,
    auth_token: &str,
    public_base_url: &str,
) -> Result<Vec<(String, String)>, PluginError> {
    if auth_token.is_empty() {
        return Err(PluginError::unauthorized(
            "auth_token is not configured; refusing unsigned requests",
        ));
    }
    let url = format!(
        "{}{}",
        public_base_url.trim_end_matches('/'),
        request.path_with_query
    );
    // Verified before the body is trusted, but the signature covers the
    // parsed parameters, so parse first: an unparsable body cannot match.
    let params = if request.method == "POST" {
        crate::webhook::parse_form(&request.body)
            .map_err(|_| PluginError::unauthorized("X-Twilio-Signature does not match"))?
    } else {
        Vec::new()
    };
    verify_twilio(
        auth_token,
        &url,
        &params,
        request.header("x-twilio-signature"),
    )?;
    Ok(params)
}

/// [`verify_twilio_request`] with the plugin's own `auth_token` and
/// `public_base_url` configuration keys (the Twilio channels' convention).
pub fn verify_twilio_configured(
    request: &crate::HttpRequest,
) -> Result<Vec<(String, String)>, PluginError> {
    verify_twilio_request(
        request,
        &crate::config::get_or("auth_token", ""),
        &crate::config::get_or("public_base_url", ""),
    )
}

/// Mailgun's webhook signature: hex HMAC-SHA256, keyed with the webhook
/// signing key, of `timestamp` followed by `token`.
pub fn verify_mailgun(
    signing_key: &str,
    timestamp: &str,
    token: &str,
    signature: &str,
) -> Result<(), PluginError> {
    let message = format!("{timestamp}{token}");
    if verify_hmac_sha256_hex(signing_key.as_bytes(), message.as_bytes(), signature) {
        Ok(())
    } else {
        Err(PluginError::unauthorized(
            "the Mailgun signature does not match",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc4231_case_2() {
        assert_eq!(
            to_hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn twilio_example_from_their_docs() {
        // https://www.twilio.com/docs/usage/security#validating-requests
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            twilio_signature("12345", url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(verify_twilio("12345", url, &params, Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")).is_ok());
        assert!(
            verify_twilio("12346", url, &params, Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")).is_err()
        );
        assert!(verify_twilio("12345", url, &params, None).is_err());
    }

    #[test]
    fn meta_and_mailgun_signatures() {
        let sig = format!("sha256={}", to_hex(&hmac_sha256(b"secret", b"{}")));
        assert!(verify_meta("secret", b"{}", Some(&sig)).is_ok());
        assert!(verify_meta("secret", b"{ }", Some(&sig)).is_err());
        assert!(verify_meta("other", b"{}", Some(&sig)).is_err());
        assert!(verify_meta("secret", b"{}", Some("sha1=00")).is_err());
        let mg = to_hex(&hmac_sha256(b"key", b"1749420000tok"));
        assert!(verify_mailgun("key", "1749420000", "tok", &mg).is_ok());
        assert!(verify_mailgun("key", "1749420001", "tok", &mg).is_err());
        assert!(verify_mailgun("key", "1749420000", "tok", "zz").is_err());
    }
}
