//! `GET /admin/api/conversations` (newest activity first, paged) and
//! `GET /admin/api/conversations/{id}` (with the full transcript).

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{ApiError, ApiQuery, AppState, ErrorCode};
use crate::store::ConversationStore;

const MAX_PAGE: i64 = 500;

#[derive(Debug, Deserialize)]
pub struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let limit = page.limit.unwrap_or(50);
    let offset = page.offset.unwrap_or(0);
    if !(1..=MAX_PAGE).contains(&limit) || offset < 0 {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("limit must be between 1 and {MAX_PAGE} and offset 0 or more"),
        ));
    }
    let conversations = state.store.list_conversations(limit, offset).await?;
    Ok(Json(
        json!({ "conversations": conversations, "limit": limit, "offset": offset }),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let Some(conversation) = state.store.conversation(&id).await? else {
        return Err(ApiError::not_found("the conversation"));
    };
    let messages = state.store.transcript(&id).await?;
    Ok(Json(
        json!({ "conversation": conversation, "messages": messages }),
    ))
}
