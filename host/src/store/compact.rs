//! Rewriting the database so that erased data is gone from disk.
//!
//! sled is log-structured: a deleted record's bytes stay in old segments
//! until sled reuses them, which may be never. After an erasure the core
//! sets a marker ([`request_compaction`]); at the next start the database
//! is copied record by record (`export`/`import`: only live records) into
//! a fresh directory, which replaces the old one, and the old one is
//! deleted. We chose this over per-customer encryption keys (shredding by
//! deleting a key) because it needs no key management and keeps every
//! record readable by the tools that read sled, at the cost of a rewrite
//! at the next start — which is when an operator restarts after an
//! erasure request anyway; the README says so.

use std::path::{Path, PathBuf};

use super::{Batch, StoreError};

/// The key that asks for a rewrite at the next start (in tree `core`).
const MARKER: &[u8] = b"store/compact";
/// The key holding the id the generator continues from after a rewrite.
pub(super) const ID_BASE: &[u8] = b"store/idbase";

/// Asks, in `batch`, for the database to be rewritten at the next start.
pub fn request_compaction(batch: &mut Batch) {
    batch.put(MARKER.to_vec(), b"1".to_vec());
}

/// The id generator's offset stored in `db` (0 when never rewritten).
pub(super) fn id_base(tree: &sled::Tree) -> Result<u64, StoreError> {
    Ok(tree
        .get(ID_BASE)?
        .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok())
        .unwrap_or(0))
}

/// Finishes a rewrite a crash interrupted, then rewrites the database in
/// `dir` if a compaction was requested; returns whether it did.
pub(super) fn compact_if_requested(dir: &Path) -> Result<bool, StoreError> {
    let (fresh_dir, retired) = (sibling(dir, "compacting"), sibling(dir, "retired"));
    // The fresh copy is complete (flushed) before the old one is retired:
    // a crash between the two renames leaves it to be put in place.
    if !dir.exists() && retired.exists() {
        let whole = if fresh_dir.exists() {
            &fresh_dir
        } else {
            &retired
        };
        std::fs::rename(whole, dir).map_err(io)?;
    }
    if retired.exists() {
        std::fs::remove_dir_all(&retired).map_err(io)?;
    }
    if !dir.exists() {
        return Ok(false);
    }
    let old = sled::Config::new().path(dir).open()?;
    let core = old.open_tree("core")?;
    if core.get(MARKER)?.is_none() {
        return Ok(false);
    }
    tracing::info!(dir = %dir.display(), "rewriting the database after an erasure");
    if fresh_dir.exists() {
        std::fs::remove_dir_all(&fresh_dir).map_err(io)?;
    }
    // Ids continue where the old generator stopped.
    let next = id_base(&core)? + old.generate_id()? + 1;
    let fresh = sled::Config::new().path(&fresh_dir).open()?;
    fresh.import(old.export());
    let fresh_core = fresh.open_tree("core")?;
    fresh_core.remove(MARKER)?;
    fresh_core.insert(ID_BASE, next.to_string().as_bytes())?;
    fresh.flush()?;
    drop((fresh_core, fresh, core, old));
    std::fs::rename(dir, &retired).map_err(io)?;
    std::fs::rename(&fresh_dir, dir).map_err(io)?;
    std::fs::remove_dir_all(&retired).map_err(io)?;
    if let Some(parent) = dir.parent() {
        std::fs::File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
    }
    Ok(true)
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Sled(sled::Error::Io(e))
}

/// `<dir>.<suffix>` beside `dir`.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    dir.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_keeps_live_records_and_ids_and_drops_deleted_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let last_id = {
            let db = sled::open(&dir).unwrap();
            let core = db.open_tree("core").unwrap();
            core.insert("keep", "kept value").unwrap();
            core.insert("gone", "secret-bytes-42").unwrap();
            core.remove("gone").unwrap();
            core.insert(MARKER, "1").unwrap();
            let id = db.generate_id().unwrap();
            db.flush().unwrap();
            id
        };
        assert!(compact_if_requested(&dir).unwrap());
        let db = sled::open(&dir).unwrap();
        let core = db.open_tree("core").unwrap();
        assert_eq!(
            core.get("keep").unwrap().as_deref(),
            Some(&b"kept value"[..])
        );
        assert!(core.get(MARKER).unwrap().is_none());
        // Ids never go back.
        assert!(id_base(&core).unwrap() + db.generate_id().unwrap() > last_id);
        drop((core, db));
        for file in walk(&dir) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !bytes.windows(15).any(|w| w == b"secret-bytes-42"),
                "{}",
                file.display()
            );
        }
        // Not asked again: nothing happens.
        assert!(!compact_if_requested(&dir).unwrap());
    }

    #[test]
    fn a_crash_between_the_renames_is_finished_at_the_next_start() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        {
            let db = sled::open(sibling(&dir, "compacting")).unwrap();
            db.open_tree("core").unwrap().insert("k", "v").unwrap();
            db.flush().unwrap();
        }
        std::fs::create_dir_all(sibling(&dir, "retired")).unwrap();
        compact_if_requested(&dir).unwrap();
        let db = sled::open(&dir).unwrap();
        assert_eq!(
            db.open_tree("core").unwrap().get("k").unwrap().as_deref(),
            Some(&b"v"[..])
        );
        assert!(!sibling(&dir, "retired").exists());
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
