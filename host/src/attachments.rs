//! Media files kept by the host: content-addressed blobs in
//! `<data dir>/attachments/<first two hex digits>/<sha-256>`, written once
//! (to a temporary file, synced, renamed into place), so the same photo sent
//! twice is stored once and a blob never changes under its name. Which
//! message a blob belongs to is recorded in the store by the core; the
//! bytes live beside it because a key-value store is the wrong place for
//! megabytes.

use std::io::Write as _;
use std::path::{Path, PathBuf};

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
