//! The body of a Mailgun inbound-route post, as named fields and files.
//!
//! Mailgun posts `application/x-www-form-urlencoded` when a message has no
//! attachments and `multipart/form-data` when it has some. A multipart body
//! is parsed with `mail-parser` as a MIME message: the request's
//! `Content-Type` header (which carries the boundary) is put in front of the
//! body, and each top-level part is read by the `name` of its
//! `Content-Disposition`. Parts with a file name (or named `attachment-N`)
//! are files; the others are fields.

use mail_parser::{MessageParser, MimeHeaders, PartType};
use switchboard_sdk::{Attachment, PluginError, webhook};

/// Parsed form fields and attached files, in arrival order.
#[derive(Debug, Default)]
pub struct Post {
    /// Text fields.
    pub fields: Vec<(String, String)>,
    /// Files (`attachment-N` parts of a multipart post).
    pub files: Vec<Attachment>,
    /// The content of each of `files`, in the same order.
    pub file_data: Vec<Vec<u8>>,
}

impl Post {
    /// Parses a request body according to its `Content-Type`. A body that
    /// does not parse, or of another type, is a `bad-request` error.
    pub fn parse(content_type: Option<&str>, body: Vec<u8>) -> Result<Post, PluginError> {
        let content_type = content_type.unwrap_or("").trim();
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            "multipart/form-data" => parse_multipart(content_type, body),
            // Without a content type, try the form encoding Mailgun uses.
            "application/x-www-form-urlencoded" | "" => Ok(Post {
                fields: webhook::parse_form(&body)?,
                ..Post::default()
            }),
            other => Err(PluginError::bad_request(format!(
                "unsupported content type `{other}`: Mailgun posts form data"
            ))),
        }
    }

    /// The value of a field (exact name, as Mailgun spells it).
    pub fn field(&self, name: &str) -> Option<&str> {
        webhook::field(&self.fields, name)
    }

    /// The value of a field, `None` when missing or blank.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.field(name).filter(|v| !v.trim().is_empty())
    }
}

/// Whether a multipart field name denotes an attached file.
fn is_attachment_name(name: &str) -> bool {
    name.strip_prefix("attachment-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_multipart(content_type: &str, body: Vec<u8>) -> Result<Post, PluginError> {
    // The header must stay on one line: a folded or injected line would
    // change what is parsed.
    if content_type.contains(['\r', '\n']) {
        return Err(PluginError::bad_request("invalid Content-Type header"));
    }
    let header = format!("Content-Type: {content_type}\r\n\r\n");
    let mut raw = Vec::with_capacity(header.len() + body.len());
    raw.extend_from_slice(header.as_bytes());
    raw.extend_from_slice(&body);
    drop(body);

    let invalid = || PluginError::bad_request("invalid multipart/form-data body");
    let message = MessageParser::default().parse(&raw).ok_or_else(invalid)?;
    let root = message.root_part();
    let Some(children) = root.sub_parts() else {
        return Err(invalid());
    };
    let mut post = Post::default();
    for &id in children {
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        let disposition = part.content_disposition();
        let name = disposition.and_then(|d| d.attribute("name")).unwrap_or("");
        let filename = disposition
            .and_then(|d| d.attribute("filename"))
            .filter(|f| !f.is_empty());
        if filename.is_some() || is_attachment_name(name) {
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .map(|ct| ct.to_ascii_lowercase())
                .unwrap_or_else(|| "application/octet-stream".into());
            post.files.push(Attachment {
                content_type,
                url: None,
                media_id: None,
                filename: filename.map(String::from),
                size: Some(part.len() as u64),
                caption: None,
            });
            post.file_data.push(part.contents().to_vec());
        } else if !name.is_empty() {
            let value = match &part.body {
                PartType::Text(text) | PartType::Html(text) => text.to_string(),
                _ => String::from_utf8_lossy(part.contents()).into_owned(),
            };
            post.fields.push((name.to_string(), value));
        }
    }
    if post.fields.is_empty() && post.files.is_empty() {
        return Err(invalid());
    }
    Ok(post)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    fn multipart() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nHello there\r\n",
        );
        body.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"body-plain\"\r\n\r\nline 1\r\nline 2\r\n\r\n",
        );
        body.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"attachment-count\"\r\n\r\n1\r\n",
        );
        body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"attachment-1\"; filename=\"receipt.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\x00\xff\x10binary\r\n");
        body.extend_from_slice(b"--XyZ--\r\n");
        body
    }

    #[test]
    fn multipart_fields_and_files() {
        let post = Post::parse(Some(CT), multipart()).unwrap();
        assert_eq!(post.field("subject"), Some("Hello there"));
        assert_eq!(post.field("body-plain"), Some("line 1\r\nline 2\r\n"));
        assert_eq!(post.field("attachment-count"), Some("1"));
        assert_eq!(post.files.len(), 1);
        let file = &post.files[0];
        assert_eq!(file.content_type, "application/pdf");
        assert_eq!(file.filename.as_deref(), Some("receipt.pdf"));
        assert_eq!(file.size, Some(17));
    }

    #[test]
    fn file_without_type_is_octet_stream() {
        let body =
            b"--b\r\nContent-Disposition: form-data; name=\"attachment-1\"\r\n\r\nabc\r\n--b--\r\n";
        let post = Post::parse(Some("multipart/form-data; boundary=b"), body.to_vec()).unwrap();
        assert_eq!(post.files[0].content_type, "application/octet-stream");
        assert_eq!(post.files[0].filename, None);
        assert_eq!(post.files[0].size, Some(3));
    }

    #[test]
    fn form_bodies_and_bad_input() {
        let post = Post::parse(
            Some("application/x-www-form-urlencoded"),
            b"a=1&b=x+y".to_vec(),
        )
        .unwrap();
        assert_eq!(post.field("b"), Some("x y"));
        assert!(Post::parse(Some("application/json"), b"{}".to_vec()).is_err());
        assert!(Post::parse(Some(CT), b"garbage".to_vec()).is_err());
        assert!(Post::parse(Some("multipart/form-data"), multipart()).is_err());
        assert!(
            Post::parse(
                Some("multipart/form-data; boundary=\"XyZ\"\r\nX: y"),
                multipart()
            )
            .is_err()
        );
        assert!(Post::parse(Some(CT), Vec::new()).is_err());
    }

    #[test]
    fn multipart_text_stays_utf8() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nRenée Ørsted <r@example.com>\r\n--b--\r\n";
        let post = Post::parse(
            Some("multipart/form-data; boundary=b"),
            body.as_bytes().to_vec(),
        )
        .unwrap();
        assert_eq!(post.field("from"), Some("Renée Ørsted <r@example.com>"));
    }

    #[test]
    fn attachment_names() {
        assert!(is_attachment_name("attachment-1"));
        assert!(is_attachment_name("attachment-12"));
        assert!(!is_attachment_name("attachment-count"));
        assert!(!is_attachment_name("attachment-"));
    }
}
