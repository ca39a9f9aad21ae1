//! Watching a content folder that staff edit (flows, knowledge) for changes. Debounced,
//! so an editor's save-rename-write dance counts once; changes that arrive while the
//! previous one is still being handled merge into one.

use std::path::Path;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

/// Changes in one folder, as a stream of "something changed" signals.
pub struct FolderChanges {
    changed: mpsc::Receiver<()>,
    // Watching stops when this is dropped.
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl FolderChanges {
    /// Starts watching `dir` (and its subfolders when `recursive`).
    pub fn watch(dir: &Path, recursive: bool, debounce: Duration) -> notify::Result<Self> {
        let (changed_tx, changed) = mpsc::channel::<()>(1);
        let mut debouncer = new_debouncer(
            debounce,
            None,
            move |result: notify_debouncer_full::DebounceEventResult| {
                if let Ok(events) = result
                    && events.iter().any(|e| !e.kind.is_access())
                {
                    // A full channel already means "change pending".
                    let _ = changed_tx.try_send(());
                }
            },
        )?;
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        debouncer.watch(dir, mode)?;
        Ok(Self {
            changed,
            _debouncer: debouncer,
        })
    }

    /// Waits for the next change; `None` if the watcher stopped.
    pub async fn next(&mut self) -> Option<()> {
        self.changed.recv().await
    }
}
