//! The live flow set and its hot reload. `FlowRegistry` holds the current valid set;
//! `reload` validates the whole folder and swaps the new set in only when it has no
//! problems, so a bad edit never reaches customers: the last good version stays live,
//! and the problems are kept for `/admin/api/flows` and the metrics.
//!
//! `watch` is the background worker: it reloads when files in the folder change
//! (debounced, so an editor's save-rename-write dance counts once).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::diagnostic::Diagnostics;
use super::model::FlowSet;
use super::validate::{Vocabulary, load_dir};
use crate::fswatch::FolderChanges;
use crate::store::now_ms;

/// Status of the flows folder, for operators.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowStatus {
    pub dir: PathBuf,
    /// Flows currently live.
    pub flows: usize,
    /// When the live set was loaded (Unix milliseconds).
    pub loaded_at: i64,
    /// When the folder was last checked.
    pub checked_at: i64,
    /// Problems of the last check; empty when the folder matches what is live.
    pub diagnostics: Diagnostics,
}

pub struct FlowRegistry {
    dir: PathBuf,
    vocabulary: Vocabulary,
    current: RwLock<Arc<FlowSet>>,
    status: RwLock<FlowStatus>,
}

impl FlowRegistry {
    /// Loads the folder; fails with every problem when it is not valid.
    pub fn load(dir: &Path, vocabulary: Vocabulary) -> Result<Self, Diagnostics> {
        let set = load_dir(dir, &vocabulary)?;
        let now = now_ms();
        let status = FlowStatus {
            dir: dir.to_path_buf(),
            flows: set.flows().count(),
            loaded_at: now,
            checked_at: now,
            diagnostics: Diagnostics::default(),
        };
        record_metrics(&status);
        Ok(Self {
            dir: dir.to_path_buf(),
            vocabulary,
            current: RwLock::new(Arc::new(set)),
            status: RwLock::new(status),
        })
    }

    /// A registry that always serves `set` (flow tests).
    pub fn fixed_arc(set: Arc<FlowSet>, vocabulary: Vocabulary) -> Self {
        let status = FlowStatus {
            flows: set.flows().count(),
            ..FlowStatus::default()
        };
        Self {
            dir: PathBuf::new(),
            vocabulary,
            current: RwLock::new(set),
            status: RwLock::new(status),
        }
    }

    pub fn current(&self) -> Arc<FlowSet> {
        // A poisoned lock only means a panic while swapping an Arc; the value is intact.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn status(&self) -> FlowStatus {
        self.status
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Validates the folder and swaps the new set in if it is valid. On problems the
    /// live set is kept and the problems are returned (and logged).
    pub fn reload(&self) -> Result<usize, Diagnostics> {
        let result = load_dir(&self.dir, &self.vocabulary);
        let now = now_ms();
        let mut status = self.status.write().unwrap_or_else(|e| e.into_inner());
        status.checked_at = now;
        let outcome = match result {
            Ok(set) => {
                let count = set.flows().count();
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
                status.flows = count;
                status.loaded_at = now;
                status.diagnostics = Diagnostics::default();
                metrics::counter!("showroom_flow_reloads_total", "result" => "ok").increment(1);
                tracing::info!(flows = count, "flows reloaded");
                Ok(count)
            }
            Err(diagnostics) => {
                metrics::counter!("showroom_flow_reloads_total", "result" => "invalid")
                    .increment(1);
                tracing::warn!(
                    problems = diagnostics.len(),
                    "flow files have problems; the previous version stays live:\n{diagnostics}"
                );
                status.diagnostics = diagnostics.clone();
                Err(diagnostics)
            }
        };
        record_metrics(&status);
        outcome
    }
}

fn record_metrics(status: &FlowStatus) {
    metrics::gauge!("showroom_flows_loaded").set(status.flows as f64);
    metrics::gauge!("showroom_flow_problems").set(status.diagnostics.len() as f64);
}

/// Reloads flows whenever files in the folder change, until `token` is cancelled.
pub async fn watch(registry: Arc<FlowRegistry>, token: CancellationToken) {
    let mut changes = match FolderChanges::watch(registry.dir(), false, Duration::from_millis(300))
    {
        Ok(changes) => changes,
        Err(err) => {
            tracing::error!(cause = %err, dir = %registry.dir().display(), "cannot watch the flows folder; use POST /admin/api/flows/reload after edits");
            return;
        }
    };
    loop {
        tokio::select! {
            () = token.cancelled() => break,
            Some(()) = changes.next() => {
                let registry = registry.clone();
                // Reading and validating files is blocking work.
                let _ = tokio::task::spawn_blocking(move || registry.reload()).await;
            }
        }
    }
}
