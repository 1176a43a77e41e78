//! Hot reload: watches the plugins directory and, once a plugin's files have
//! been quiet for the debounce interval, reloads (or loads, or unloads) it.
//! Loading happens on this task, off every call's path; the swap itself is
//! one atomic pointer store.

use std::collections::HashMap;
use std::path::{Component, Path};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Runtime, RuntimeError};

impl Runtime {
    /// Starts watching the plugins directory: changed bundles are reloaded
    /// (after the debounce), new ones loaded, removed ones unloaded.
    pub fn watch(&self) -> Result<WatchHandle, RuntimeError> {
        let debounce = Duration::from_millis(self.inner.config.runtime.reload_debounce_ms);
        spawn(self.clone(), debounce).map(|task| WatchHandle { task: Some(task) })
    }
}

/// Keeps the plugins directory watcher alive; dropping it stops watching.
pub struct WatchHandle {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl WatchHandle {
    /// Stops watching and waits until the watcher (and the runtime handle it
    /// holds) is gone.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn spawn(
    runtime: Runtime,
    debounce: Duration,
) -> Result<tokio::task::JoinHandle<()>, RuntimeError> {
    let root = runtime.plugins_dir().to_path_buf();
    let watch_error = |e: &dyn std::fmt::Display| RuntimeError::Watch {
        dir: root.clone(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(&root).map_err(|e| watch_error(&e))?;
    let root = root.canonicalize().map_err(|e| watch_error(&e))?;
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let watch_root = root.clone();
    let mut watcher: RecommendedWatcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            match event {
                // Reading a bundle to load it raises access events: reacting to
                // those would reload forever.
                Ok(event) if matches!(event.kind, notify::EventKind::Access(_)) => {}
                Ok(event) => {
                    for path in &event.paths {
                        if let Some(name) = plugin_of(&watch_root, path) {
                            let _ = tx.send(name);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "plugins directory watch error"),
            }
        })
        .map_err(|e| watch_error(&e))?;
    watcher
        .watch(&root, RecursiveMode::Recursive)
        .map_err(|e| watch_error(&e))?;
    tracing::info!(dir = %root.display(), debounce_ms = debounce.as_millis() as u64, "watching plugins directory");

    Ok(tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        let mut pending: HashMap<String, Instant> = HashMap::new();
        loop {
            let next_due = pending.values().min().copied();
            tokio::select! {
                changed = rx.recv() => match changed {
                    Some(name) => { pending.insert(name, Instant::now() + debounce); }
                    None => break,
                },
                _ = sleep_until(next_due), if next_due.is_some() => {
                    let now = Instant::now();
                    let due: Vec<String> = pending
                        .iter()
                        .filter(|(_, at)| **at <= now)
                        .map(|(name, _)| name.clone())
                        .collect();
                    for name in due {
                        pending.remove(&name);
                        runtime.sync(&name).await;
                    }
                }
            }
        }
    }))
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// The plugin a changed path belongs to: its first component under the
/// plugins directory, unless hidden (editors' and uploaders' temp files).
fn plugin_of(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    match relative.components().next()? {
        Component::Normal(name) => {
            let name = name.to_str()?;
            (!name.starts_with('.')).then(|| name.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_map_to_their_plugin() {
        let root = Path::new("/data/plugins");
        assert_eq!(
            plugin_of(root, Path::new("/data/plugins/sms/plugin.wasm")).as_deref(),
            Some("sms")
        );
        assert_eq!(
            plugin_of(root, Path::new("/data/plugins/sms")).as_deref(),
            Some("sms")
        );
        assert_eq!(
            plugin_of(root, Path::new("/data/plugins/.upload-1/x")),
            None
        );
        assert_eq!(plugin_of(root, Path::new("/elsewhere/x")), None);
        assert_eq!(plugin_of(root, root), None);
    }
}
