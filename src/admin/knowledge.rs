//! `GET /admin/api/knowledge` (index status and unreadable files),
//! `GET /admin/api/knowledge/search?q=…&k=5` (what retrieval returns for a question) and
//! `POST /admin/api/knowledge/ingest` (bring the index in line with the folder now).
//! While `serve` runs it holds the embedded index, so staff search through it here.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::{ApiError, ErrorCode};
use crate::knowledge::{KnowledgeBase, SearchOptions};

fn knowledge(state: &AppState) -> Result<&KnowledgeBase, ApiError> {
    state.knowledge.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unavailable,
            "there is no knowledge folder; create it (setting `knowledge_dir`) and restart",
        )
    })
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "knowledge request failed");
    ApiError::new(
        ErrorCode::Unavailable,
        format!("the knowledge index failed: {err}"),
    )
}

pub async fn status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let base = knowledge(&state)?;
    Ok(Json(json!({ "status": base.status() })))
}

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: String,
    #[serde(default)]
    k: Option<usize>,
    #[serde(default)]
    sparse_only: bool,
}

pub async fn search(
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let base = knowledge(&state)?;
    if params.q.trim().is_empty() || params.q.chars().count() > state.config.web.max_message_chars {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "`q` must be a question of 1 to {} characters",
                state.config.web.max_message_chars
            ),
        ));
    }
    let options = SearchOptions {
        k: params.k.unwrap_or(5).clamp(1, 50),
        dense: !params.sparse_only,
    };
    let hits = base.search(&params.q, options).await.map_err(internal)?;
    Ok(Json(json!({ "query": params.q, "hits": hits })))
}

pub async fn ingest(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let base = knowledge(&state)?;
    let report = base
        .ingest(&crate::knowledge::watch::LogProgress)
        .await
        .map_err(internal)?;
    Ok(Json(json!({ "report": report })))
}
