//! Group commit: one flusher thread makes writes durable for many writers at
//! once.
//!
//! Every applied batch takes a sequence number *after* it is applied. The
//! flusher reads the latest sequence number, flushes, and then releases every
//! writer whose number is not above it: those writes were applied before the
//! flush began, so the flush covered them. While one flush runs, new writes
//! pile up and the next flush covers them all — one fsync for many requests
//! instead of one each.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::watch;

use super::StoreError;
use super::backend::Backend;

/// How acknowledged writes are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// One flusher thread batches concurrent flushes (the default).
    GroupCommit,
    /// Every waiter flushes on its own (the baseline for benchmarks).
    FlushEach,
}

pub(crate) struct GroupCommit {
    backend: Arc<dyn Backend>,
    mode: Durability,
    applied: AtomicU64,
    /// The highest sequence number known durable, or an error message when
    /// the last flush failed.
    durable_tx: watch::Sender<Result<u64, String>>,
    wake: Arc<(Mutex<bool>, Condvar)>,
    stop: AtomicBool,
}

impl GroupCommit {
    pub fn start(backend: Arc<dyn Backend>, mode: Durability) -> Arc<GroupCommit> {
        let (durable_tx, _) = watch::channel(Ok(0));
        let commit = Arc::new(GroupCommit {
            backend,
            mode,
            applied: AtomicU64::new(0),
            durable_tx,
            wake: Arc::new((Mutex::new(false), Condvar::new())),
            stop: AtomicBool::new(false),
        });
        if mode == Durability::GroupCommit {
            let flusher = Arc::downgrade(&commit);
            let wake = commit.wake.clone();
            std::thread::Builder::new()
                .name("switchboard-flusher".into())
                .spawn(move || flusher_loop(flusher, wake))
                .expect("spawning the flusher thread");
        }
        commit
    }

    /// Records that a batch was applied; returns its sequence number.
    pub fn applied(&self) -> u64 {
        self.applied.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The sequence number of the latest applied batch.
    pub fn latest(&self) -> u64 {
        self.applied.load(Ordering::SeqCst)
    }

    /// Waits until batch `seq` (and everything before it) is durable.
    pub async fn wait(&self, seq: u64) -> Result<(), StoreError> {
        if seq == 0 {
            return Ok(());
        }
        if self.mode == Durability::FlushEach {
            let backend = self.backend.clone();
            return tokio::task::spawn_blocking(move || backend.flush())
                .await
                .map_err(|e| StoreError::Flush(e.to_string()))?;
        }
        let mut rx = self.durable_tx.subscribe();
        {
            let (lock, cvar) = &*self.wake;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
            cvar.notify_one();
        }
        let result = rx
            .wait_for(|d| match d {
                Ok(d) => *d >= seq,
                Err(_) => true,
            })
            .await
            .map_err(|_| StoreError::Flush("the flusher stopped".into()))?;
        match &*result {
            Ok(_) => Ok(()),
            Err(e) => Err(StoreError::Flush(e.clone())),
        }
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let (lock, cvar) = &*self.wake;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_one();
    }
}

fn flusher_loop(commit: std::sync::Weak<GroupCommit>, wake: Arc<(Mutex<bool>, Condvar)>) {
    loop {
        {
            let (lock, cvar) = &*wake;
            let mut pending = lock.lock().unwrap_or_else(|e| e.into_inner());
            while !*pending {
                pending = cvar.wait(pending).unwrap_or_else(|e| e.into_inner());
            }
            *pending = false;
        }
        let Some(commit) = commit.upgrade() else {
            return;
        };
        if commit.stop.load(Ordering::SeqCst) {
            return;
        }
        let target = commit.latest();
        let durable = commit.durable_tx.borrow().clone();
        if matches!(durable, Ok(d) if d >= target) {
            continue;
        }
        match commit.backend.flush() {
            Ok(()) => {
                let _ = commit.durable_tx.send_replace(Ok(target));
            }
            Err(e) => {
                tracing::error!(error = %e, "flushing the database failed");
                let _ = commit.durable_tx.send_replace(Err(e.to_string()));
            }
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        // Wake the flusher so it notices nobody needs it any more.
        let (lock, cvar) = &*self.wake;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_one();
    }
}
