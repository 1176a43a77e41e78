//! Folding the event history's older events into blocks while the host
//! runs, so that its memory does not grow with the history's length (see
//! the store's `history::blocks`).

use std::sync::Arc;
use std::time::Duration;

use super::{Core, CoreError};

/// How often the fold looks for events to pack. A busy host appends a few
/// thousand events a second at most; a block is 64 of them.
const EVERY: Duration = Duration::from_secs(1);

impl Core {
    /// Folds every block's worth of older history events there is now,
    /// one block per turn of the gate so that no change waits long behind
    /// it; returns how many events it folded.
    pub async fn fold_history(&self) -> Result<usize, CoreError> {
        let mut folded = 0;
        loop {
            let n = {
                let _gate = self.gate();
                self.store.fold_history()?
            };
            if n == 0 {
                return Ok(folded);
            }
            folded += n;
            tokio::task::yield_now().await;
        }
    }

    /// How many of the history's events are still one key each: what the
    /// fold leaves, a few hundred at most once it has caught up.
    pub fn history_unfolded(&self) -> Result<usize, CoreError> {
        Ok(self.store.history_unfolded()?)
    }
}

/// Runs the fold every [`EVERY`] while the host runs.
pub(super) fn start(core: Arc<Core>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = core.fold_history().await {
                        tracing::error!(error = %e, "folding the event history failed");
                    }
                }
                _ = core.events.closed() => return,
            }
        }
    })
}
