//! Fuzzing support (feature `fuzzing`): input generators for webhook
//! parsers, and the properties of this crate's own parsers and signature
//! checks.
//!
//! A property draws its input from an [`Unstructured`] and panics when it
//! does not hold, so the same function runs under `cargo fuzz` (the bytes
//! come from libFuzzer) and, for a bounded time, under `cargo test` with
//! `arbtest`. Raw bytes alone rarely get past a JSON or form parser, so the
//! generators build inputs out of the names a parser looks for, mixed with
//! arbitrary text.

use arbitrary::{Result, Unstructured};
use serde_json::{Map, Number, Value};

use crate::{ErrorKind, HttpRequest, PluginError, signature, webhook};

/// How long one bounded property test runs under `cargo test`, in ms:
/// `ARBTEST_BUDGET_MS` when set (a longer run by hand), else 300, which
/// finds shallow bugs without slowing every test run.
pub fn test_budget_ms() -> u64 {
    std::env::var("ARBTEST_BUDGET_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(300)
}

/// Text that is one of `words` or, one time in three, arbitrary.
pub fn word(u: &mut Unstructured<'_>, words: &[&str]) -> Result<String> {
    if words.is_empty() || u.ratio(1, 3)? {
        Ok(u.arbitrary::<String>()?)
    } else {
        Ok(u.choose(words)?.to_string())
    }
}

/// A JSON value at most `depth` levels deep: objects take their keys from
/// `keys` (the fields the parser reads) and strings from `words`.
pub fn json(u: &mut Unstructured<'_>, keys: &[&str], words: &[&str], depth: u32) -> Result<Value> {
    let nested = if depth == 0 { 5 } else { 7 };
    Ok(match u.choose_index(nested)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Number(Number::from(u.arbitrary::<i64>()?)),
        3 => Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        4 => Value::String(word(u, words)?),
        5 => {
            let len = u.int_in_range(0..=3)?;
            let items = (0..len)
                .map(|_| json(u, keys, words, depth - 1))
                .collect::<Result<Vec<_>>>()?;
            Value::Array(items)
        }
        _ => object(u, keys, words, depth - 1)?,
    })
}

/// A JSON object with up to six fields named from `keys`, values as
/// [`json`].
pub fn object(
    u: &mut Unstructured<'_>,
    keys: &[&str],
    words: &[&str],
    depth: u32,
) -> Result<Value> {
    let mut map = Map::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let key = word(u, keys)?;
        map.insert(key, json(u, keys, words, depth)?);
    }
    Ok(Value::Object(map))
}

/// Form parameters named from `names`, valued from `values`.
pub fn pairs(
    u: &mut Unstructured<'_>,
    names: &[&str],
    values: &[&str],
) -> Result<Vec<(String, String)>> {
    let len = u.int_in_range(0..=12)?;
    (0..len)
        .map(|_| Ok((word(u, names)?, word(u, values)?)))
        .collect()
}

/// `pairs` as an `application/x-www-form-urlencoded` body.
pub fn encode_form(pairs: &[(String, String)]) -> Vec<u8> {
    serde_urlencoded::to_string(pairs)
        .expect("pairs of strings encode")
        .into_bytes()
}

/// Form parameters for a parser: decoded from arbitrary bytes (`None` when
/// they do not decode) or generated as [`pairs`].
pub fn form(
    u: &mut Unstructured<'_>,
    names: &[&str],
    values: &[&str],
) -> Result<Option<Vec<(String, String)>>> {
    if u.ratio(1, 4)? {
        Ok(webhook::parse_form(u.arbitrary()?).ok())
    } else {
        pairs(u, names, values).map(Some)
    }
}

/// A webhook request: method, path (under `/webhooks/<plugin>` or not),
/// headers and body all arbitrary.
pub fn request(u: &mut Unstructured<'_>) -> Result<HttpRequest> {
    let method = word(u, &["GET", "POST", "OPTIONS", "HEAD", "PUT"])?;
    let path = word(
        u,
        &[
            "/webhooks/webchat",
            "/webhooks/webchat/",
            "/webhooks/webchat/messages",
            "/webhooks/email",
            "/webhooks/",
            "/",
        ],
    )?;
    let query = word(u, &["", "?", "?a=1&b=%20x", "?session_id=s&after=3&wait=1"])?;
    let headers = pairs(
        u,
        &["content-type", "origin", "host", "x-hub-signature-256"],
        &["application/json", "https://example.com", "example.com"],
    )?;
    Ok(HttpRequest {
        method,
        path_with_query: format!("{path}{query}"),
        headers,
        body: u.arbitrary::<Vec<u8>>()?,
    })
}

/// Panics unless `error` is a client error: what a bad webhook must get
/// (a 4xx answer), never a fault of the plugin.
pub fn assert_client_error(error: &PluginError) {
    assert!(
        matches!(
            error.kind,
            ErrorKind::BadRequest
                | ErrorKind::Unauthorized
                | ErrorKind::Forbidden
                | ErrorKind::NotFound
        ),
        "a bad request must be a client error, got {error:?}"
    );
}

/// The request helpers and body parsers take anything: forms and JSON
/// parse or fail with `bad-request`, a form survives encoding and parsing,
/// and the sub-path of a webhook path starts with `/`.
pub fn webhook_parsers(u: &mut Unstructured<'_>) -> Result<()> {
    let request = request(u)?;
    let _ = (request.path(), request.query(), request.query_pairs());
    let _ = request.query_param("session_id");
    let _ = request.header("content-type");
    if request.path().starts_with("/webhooks/") {
        assert!(request.subpath().starts_with('/'), "{request:?}");
    }
    for result in [
        request.form().map(drop),
        request.json::<Value>().map(drop),
        request.text().map(drop),
    ] {
        if let Err(e) = result {
            assert_eq!(e.kind, ErrorKind::BadRequest, "{e:?}");
        }
    }
    let params = pairs(u, &["From", "Body", "a b", "&=", ""], &["+1 650", "x&y=z"])?;
    assert_eq!(
        webhook::parse_form(&encode_form(&params)).ok(),
        Some(params)
    );
    Ok(())
}

/// The signature checks never panic, accept what the provider would sign
/// and refuse anything else (Meta, Twilio, Mailgun).
pub fn signatures(u: &mut Unstructured<'_>) -> Result<()> {
    let key: String = u.arbitrary()?;
    let body: Vec<u8> = u.arbitrary()?;
    let header: Option<String> = u.arbitrary()?;

    // Meta: whatever the header says, a verdict; the real one passes.
    let _ = signature::verify_meta(&key, &body, header.as_deref());
    let _ =
        signature::verify_hmac_sha256_hex(key.as_bytes(), &body, header.as_deref().unwrap_or(""));
    let _ =
        signature::verify_hmac_sha1_base64(key.as_bytes(), &body, header.as_deref().unwrap_or(""));
    let digest = signature::to_hex(&signature::hmac_sha256(key.as_bytes(), &body));
    let signed = format!("sha256={digest}");
    assert!(signature::verify_meta(&key, &body, Some(&signed)).is_ok());
    // Hex is case-insensitive: only another digest fails.
    let genuine = header
        .as_deref()
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .is_some_and(|hex| hex.trim().eq_ignore_ascii_case(&digest));
    assert_eq!(
        signature::verify_meta(&key, &body, header.as_deref()).is_ok(),
        genuine
    );

    // Twilio: a POST signed over its parsed parameters verifies, and
    // returns those parameters; any request with a wrong header does not.
    let params = pairs(u, &["From", "To", "Body", "MessageSid"], &["+1650", "hi"])?;
    let base = word(u, &["https://cc.example.com", "https://cc.example.com/"])?;
    let mut request = request(u)?;
    request.method = "POST".into();
    request.body = encode_form(&params);
    let url = format!("{}{}", base.trim_end_matches('/'), request.path_with_query);
    let good = signature::twilio_signature(&key, &url, &params);
    request.headers = vec![("X-Twilio-Signature".into(), good.clone())];
    let verified = signature::verify_twilio_request(&request, &key, &base);
    if key.is_empty() {
        assert_eq!(verified.unwrap_err().kind, ErrorKind::Unauthorized);
    } else {
        assert_eq!(verified.ok(), Some(params));
    }
    let mut forged = request.clone();
    forged.headers = vec![(
        "x-twilio-signature".into(),
        header.clone().unwrap_or_default(),
    )];
    if header.as_deref().map(str::trim) != Some(good.as_str()) {
        let e = signature::verify_twilio_request(&forged, &key, &base).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized);
    }
    let mut garbled = request;
    garbled.body = u.arbitrary()?;
    if let Err(e) = signature::verify_twilio_request(&garbled, &key, &base) {
        assert_eq!(e.kind, ErrorKind::Unauthorized);
    }

    // Mailgun: the signing key over timestamp + token.
    let timestamp: String = u.arbitrary()?;
    let token: String = u.arbitrary()?;
    let mac = signature::to_hex(&signature::hmac_sha256(
        key.as_bytes(),
        format!("{timestamp}{token}").as_bytes(),
    ));
    assert!(signature::verify_mailgun(&key, &timestamp, &token, &mac).is_ok());
    if let Some(h) = header
        .as_deref()
        .filter(|h| !h.trim().eq_ignore_ascii_case(&mac))
    {
        assert!(signature::verify_mailgun(&key, &timestamp, &token, h).is_err());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use arbtest::arbtest;

    use super::*;

    #[test]
    fn webhook_parsers_take_anything() {
        arbtest(webhook_parsers).budget_ms(test_budget_ms());
    }

    #[test]
    fn signatures_accept_exactly_the_providers() {
        arbtest(signatures).budget_ms(test_budget_ms());
    }
}
