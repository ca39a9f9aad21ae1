//! `GET /admin/api/prompts`: which prompt files are live (from the folder or the
//! built-in copy), when they were loaded, and the problems of the last check — a broken
//! edit shows here with `file:line:col` while the last good prompts keep answering.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::{ApiError, ErrorCode};

pub async fn status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let prompts = state.prompts.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unavailable,
            "the assistant is off: there is no knowledge folder (setting `knowledge_dir`)",
        )
    })?;
    Ok(Json(json!({ "status": prompts.status() })))
}
