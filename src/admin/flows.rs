//! `GET /admin/api/flows` (live flows, and the problems of the last check) and
//! `POST /admin/api/flows/reload` (check the folder now; swap in only if valid).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::http::AppState;

pub async fn status(State(state): State<AppState>) -> Json<Value> {
    let set = state.flows.current();
    let flows: Vec<Value> = set
        .flows()
        .map(|flow| {
            json!({
                "id": flow.id,
                "title": flow.title,
                "file": flow.file,
                "steps": flow.steps.len(),
            })
        })
        .collect();
    Json(json!({ "status": state.flows.status(), "flows": flows }))
}

pub async fn reload(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let registry = state.flows.clone();
    let result = tokio::task::spawn_blocking(move || registry.reload()).await;
    match result {
        Ok(Ok(count)) => (
            StatusCode::OK,
            Json(json!({ "reloaded": true, "flows": count })),
        ),
        Ok(Err(diagnostics)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "reloaded": false,
                "message": "the flow files have problems; the previous version stays live",
                "diagnostics": diagnostics.0,
            })),
        ),
        Err(err) => {
            tracing::error!(cause = %err, "flow reload task failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "reloaded": false, "message": "the reload failed unexpectedly" })),
            )
        }
    }
}
