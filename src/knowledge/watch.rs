//! `serve` keeps the index in line with the knowledge folder: a change (debounced, so an
//! editor's save dance counts once) triggers an incremental ingest. Failures are logged
//! and show in `/admin/api/knowledge`; the last good index keeps answering.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::base::KnowledgeBase;
use super::ingest::{FileOutcome, FileReport, IngestProgress};
use crate::fswatch::FolderChanges;

/// Logs what each ingest changed.
pub struct LogProgress;

impl IngestProgress for LogProgress {
    fn file_done(&self, report: &FileReport) {
        match &report.outcome {
            FileOutcome::Unchanged { .. } => {}
            FileOutcome::Failed { error } => {
                tracing::warn!(source = %report.source, %error, "knowledge file skipped; its previous version stays indexed")
            }
            outcome => tracing::info!(source = %report.source, ?outcome, "knowledge file indexed"),
        }
    }
}

/// Ingests once now, then again whenever the folder changes, until `token` is cancelled.
pub async fn watch(base: Arc<KnowledgeBase>, token: CancellationToken) {
    // Watch before the first ingest, so an edit made during it is not missed.
    let changes = FolderChanges::watch(base.root(), true, Duration::from_millis(500));
    ingest_logged(&base).await;
    let mut changes = match changes {
        Ok(changes) => changes,
        Err(err) => {
            tracing::error!(cause = %err, dir = %base.root().display(), "cannot watch the knowledge folder; use POST /admin/api/knowledge/ingest or `showroom kb ingest` after edits");
            return;
        }
    };
    loop {
        tokio::select! {
            () = token.cancelled() => break,
            Some(()) = changes.next() => ingest_logged(&base).await,
        }
    }
}

pub async fn ingest_logged(base: &KnowledgeBase) {
    match base.ingest(&LogProgress).await {
        Ok(report) if report.changed() || report.failed() > 0 => tracing::info!(
            files = report.files.len(),
            chunks = report.chunks,
            failed = report.failed(),
            millis = report.elapsed.as_millis() as u64,
            "knowledge ingested"
        ),
        Ok(_) => tracing::debug!("knowledge unchanged"),
        Err(err) => {
            metrics::counter!("showroom_knowledge_ingest_failures_total").increment(1);
            tracing::error!(error = %err, "knowledge ingest failed; the previous index keeps answering, next change retries")
        }
    }
}
