//! Media files kept by the host: content-addressed blobs in
//! `<data dir>/attachments/<first two hex digits>/<sha-256>`, written once
//! (to a temporary file, synced, renamed into place), so the same photo sent
//! twice is stored once and a blob never changes under its name. Which
//! message a blob belongs to is recorded in the store by the core; the
//! bytes live beside it because a key-value store is the wrong place for
//! megabytes.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A stored file: what the host knows about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Blob {
    /// Hex SHA-256 of the content: its name in the store.
    pub sha256: String,
    /// MIME type, as checked when it was stored.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// The original file name, if any (cleaned for a download header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// When it was stored (unix ms).
    pub stored_at: u64,
}

/// Why a file was not stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// Over the size limit.
    #[error("the file is {size} bytes; at most {max} are accepted")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Empty, or a name that is not a SHA-256.
    #[error("{0}")]
    Invalid(String),
    /// The disk failed.
    #[error("attachment storage: {0}")]
    Io(#[from] std::io::Error),
}

/// Tells apart the temporary files of concurrent writes of one blob.
static TMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The blob directory.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
    max_bytes: u64,
}

impl Blobs {
    /// Blobs under `dir` (created on first write), each at most
    /// `max_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Blobs {
            dir: dir.into(),
            max_bytes,
        }
    }

    /// The largest file accepted.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Stores `data` durably (synced before this returns) and names it.
    pub fn put(
        &self,
        data: &[u8],
        content_type: &str,
        filename: Option<&str>,
        now: u64,
    ) -> Result<Blob, BlobError> {
        let size = data.len() as u64;
        if size > self.max_bytes {
            return Err(BlobError::TooLarge {
                size,
                max: self.max_bytes,
            });
        }
        if data.is_empty() {
            return Err(BlobError::Invalid("the file is empty".into()));
        }
        let sha256 = hex::encode(Sha256::digest(data));
        let path = self.path(&sha256)?;
        if !path.exists() {
            let parent = path.parent().unwrap_or(&self.dir);
            std::fs::create_dir_all(parent)?;
            // Written aside and renamed: a crash leaves a stray temporary
            // file, never a truncated blob under the real name.
            let tmp = parent.join(format!(
                ".{sha256}.{}.{}.tmp",
                std::process::id(),
                TMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            let written = (|| {
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)?;
                file.write_all(data)?;
                file.sync_all()?;
                std::fs::rename(&tmp, &path)
            })();
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            sync_dir(parent)?;
        }
        Ok(Blob {
            sha256,
            content_type: content_type.to_string(),
            size,
            filename: filename.map(clean_filename).filter(|f| !f.is_empty()),
            stored_at: now,
        })
    }

    /// The content of a stored blob; `None` when it is not there.
    pub fn read(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError> {
        match std::fs::read(self.path(sha256)?) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the blob named `sha256` (gone already is fine).
    pub fn remove(&self, sha256: &str) -> Result<(), BlobError> {
        match std::fs::remove_file(self.path(sha256)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Where the blob named `sha256` lives; refuses anything but 64 hex
    /// digits, so a name can never reach outside the directory.
    fn path(&self, sha256: &str) -> Result<PathBuf, BlobError> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BlobError::Invalid(format!("`{sha256}` is not a SHA-256")));
        }
        let sha256 = sha256.to_ascii_lowercase();
        Ok(self.dir.join(&sha256[..2]).join(sha256))
    }
}

/// What an attachment's `url` starts with when its file was kept by the
/// host from the webhook that brought it ([`Files::kept_ref`]).
pub const KEPT_PREFIX: &str = "switchboard-kept:";

/// How long a link to a file an agent sent works: long enough for a
/// provider's retries and a customer opening an email days later.
pub const LINK_TTL_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// The blobs and the links to them: `/files/<sha-256>/<name>?expires=…&sig=…`,
/// signed with a key kept in the blob directory, so a provider (WhatsApp by
/// link, an MMS `MediaUrl`) can fetch a file an agent sent without an
/// account, and nobody can guess another.
pub struct Files {
    blobs: Blobs,
    key: [u8; 32],
    public_url: Option<String>,
}

impl Files {
    /// The files under `dir`: creates the directory and the link key on
    /// first use. `public_url` (e.g. `https://cc.example.com`) makes links
    /// absolute, as providers need them.
    pub fn open(dir: &Path, max_bytes: u64, public_url: Option<&str>) -> Result<Files, BlobError> {
        std::fs::create_dir_all(dir)?;
        let key_path = dir.join("link-key");
        let key = match std::fs::read_to_string(&key_path) {
            Ok(text) => hex::decode(text.trim())
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .ok_or_else(|| BlobError::Invalid(format!("{} is damaged", key_path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key)
                    .map_err(|e| std::io::Error::other(format!("no randomness: {e}")))?;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&key_path)?;
                file.write_all(hex::encode(key).as_bytes())?;
                file.sync_all()?;
                key
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Files {
            blobs: Blobs::new(dir, max_bytes),
            key,
            public_url: public_url
                .map(|u| u.trim().trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty()),
        })
    }

    /// The blob directory.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    fn mac(&self, sha256: &str, expires: u64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(format!("{sha256}\n{expires}").as_bytes());
        mac
    }

    fn signature(&self, sha256: &str, expires: u64) -> String {
        hex::encode(self.mac(sha256, expires).finalize().into_bytes())
    }

    /// A link to `blob` that works until `now` + [`LINK_TTL_MS`]: absolute
    /// when the public URL is configured, else a path on this host.
    pub fn link(&self, blob: &Blob, now: u64) -> String {
        let expires = now + LINK_TTL_MS;
        let name = blob
            .filename
            .as_deref()
            .map(|n| {
                n.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect::<String>()
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "file".to_string());
        format!(
            "{}/files/{}/{name}?expires={expires}&sig={}",
            self.public_url.as_deref().unwrap_or(""),
            blob.sha256,
            self.signature(&blob.sha256, expires)
        )
    }

    /// Whether `sig` signs `sha256` until `expires`, and that is not past.
    pub fn verify(&self, sha256: &str, expires: u64, sig: &str, now: u64) -> bool {
        // The hmac crate compares in constant time.
        now <= expires
            && hex::decode(sig)
                .is_ok_and(|sig| self.mac(sha256, expires).verify_slice(&sig).is_ok())
    }

    fn kept_mac(&self, channel: &str, sha256: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        // Not a link's `<sha>\n<expires>`: one can never pass for the other.
        mac.update(format!("kept\n{channel}\n{sha256}").as_bytes());
        mac
    }

    /// The reference a channel puts in an attachment's `url` for a file it
    /// kept from a webhook: `switchboard-kept:<sha-256>.<signature>`, bound
    /// to the channel, so no plugin can point a message at a file it did
    /// not keep itself.
    pub fn kept_ref(&self, channel: &str, sha256: &str) -> String {
        let sig = hex::encode(self.kept_mac(channel, sha256).finalize().into_bytes());
        format!("{KEPT_PREFIX}{sha256}.{sig}")
    }

    /// The blob a [`kept_ref`](Self::kept_ref) of `channel` names; `None`
    /// for anything else (not one, another channel's, altered).
    pub fn kept_blob(&self, channel: &str, reference: &str) -> Option<String> {
        let (sha256, sig) = reference.strip_prefix(KEPT_PREFIX)?.split_once('.')?;
        let sig = hex::decode(sig).ok()?;
        self.kept_mac(channel, sha256)
            .verify_slice(&sig)
            .ok()
            .map(|()| sha256.to_string())
    }

    /// The content behind a link this host made (absolute or a path), if
    /// the link is valid and unexpired.
    pub fn linked(&self, url: &str, now: u64) -> Result<Vec<u8>, BlobError> {
        let invalid = || BlobError::Invalid("not a valid link to a file of this host".into());
        let path = match url.find("/files/") {
            Some(i) => &url[i + "/files/".len()..],
            None => return Err(invalid()),
        };
        let (path, query) = path.split_once('?').ok_or_else(invalid)?;
        let sha256 = path.split('/').next().unwrap_or_default();
        let (mut expires, mut sig) = (None, None);
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse::<u64>().ok(),
                Some(("sig", v)) => sig = Some(v),
                _ => {}
            }
        }
        let (Some(expires), Some(sig)) = (expires, sig) else {
            return Err(invalid());
        };
        if !self.verify(sha256, expires, sig, now) {
            return Err(invalid());
        }
        self.blobs.read(sha256)?.ok_or_else(invalid)
    }
}

/// A file name safe for a `Content-Disposition` header: no path, no
/// quotes or control characters, at most 120 characters.
pub fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';' | '\\'))
        .take(120)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Whether a MIME type may be shown inline in the desktop (pictures and
/// PDFs); anything else is only offered as a download.
pub fn shown_inline(content_type: &str) -> bool {
    let t = content_type.trim().to_ascii_lowercase();
    (t.starts_with("image/") && t != "image/svg+xml") || t == "application/pdf"
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_content_is_stored_once_under_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path(), 1024);
        let a = blobs
            .put(
                b"%PDF-1.4 hello",
                "application/pdf",
                Some("../../etc/x.pdf"),
                1,
            )
            .unwrap();
        let b = blobs
            .put(b"%PDF-1.4 hello", "application/pdf", None, 2)
            .unwrap();
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a.filename.as_deref(), Some("x.pdf"));
        assert_eq!(blobs.read(&a.sha256).unwrap().unwrap(), b"%PDF-1.4 hello");
        let files: Vec<_> = walk(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
    }

    #[test]
    fn limits_and_names_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path(), 4);
        assert!(matches!(
            blobs.put(b"12345", "text/plain", None, 1),
            Err(BlobError::TooLarge { size: 5, max: 4 })
        ));
        assert!(matches!(
            blobs.put(b"", "text/plain", None, 1),
            Err(BlobError::Invalid(_))
        ));
        assert!(matches!(
            blobs.read("../../etc/passwd"),
            Err(BlobError::Invalid(_))
        ));
        assert_eq!(blobs.read(&"a".repeat(64)).unwrap(), None);
    }

    #[test]
    fn links_work_until_they_expire_and_cannot_be_forged() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::open(dir.path(), 1024, Some("https://cc.example.com/")).unwrap();
        let blob = files
            .blobs()
            .put(b"%PDF-1.4", "application/pdf", Some("Invoice 7.pdf"), 1)
            .unwrap();
        let link = files.link(&blob, 1_000);
        assert!(link.starts_with("https://cc.example.com/files/"), "{link}");
        assert!(link.contains("/Invoice_7.pdf?expires="), "{link}");
        assert_eq!(files.linked(&link, 2_000).unwrap(), b"%PDF-1.4");
        assert!(files.linked(&link, 1_000 + LINK_TTL_MS + 1).is_err());
        let forged = link.replace("sig=", "sig=0");
        assert!(files.linked(&forged, 2_000).is_err());
        let longer = link.replace(
            &format!("expires={}", 1_000 + LINK_TTL_MS),
            &format!("expires={}", 9_000 + LINK_TTL_MS),
        );
        assert!(files.linked(&longer, 2_000).is_err());
        // The same key after a restart: old links keep working.
        let again = Files::open(dir.path(), 1024, None).unwrap();
        assert_eq!(again.linked(&link, 2_000).unwrap(), b"%PDF-1.4");
    }

    #[test]
    fn a_kept_file_is_named_only_by_the_channel_that_kept_it() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::open(dir.path(), 1024, None).unwrap();
        let blob = files
            .blobs()
            .put(b"receipt", "application/pdf", None, 1)
            .unwrap();
        let kept = files.kept_ref("email", &blob.sha256);
        assert!(kept.starts_with(KEPT_PREFIX), "{kept}");
        assert_eq!(files.kept_blob("email", &kept), Some(blob.sha256.clone()));
        // Another channel cannot point its messages at it.
        assert_eq!(files.kept_blob("whatsapp", &kept), None);
        // Nor can anyone name another file, or pass a link for a reference.
        let other = "0".repeat(64);
        let forged = kept.replace(&blob.sha256, &other);
        assert_eq!(files.kept_blob("email", &forged), None);
        let link = files.link(&blob, 1);
        assert_eq!(files.kept_blob("email", &link), None);
        assert_eq!(files.kept_blob("email", "switchboard-kept:nonsense"), None);
    }

    #[test]
    fn only_pictures_and_pdfs_are_shown_inline() {
        assert!(shown_inline("image/jpeg"));
        assert!(shown_inline("application/pdf"));
        assert!(!shown_inline("image/svg+xml"));
        assert!(!shown_inline("text/html"));
        assert_eq!(clean_filename("a\"b;c\r\n.pdf"), "abc.pdf");
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
