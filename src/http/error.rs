//! One error type for every JSON endpoint, with stable codes. Clients get a clean
//! `{"code": …, "message": …}`; the underlying cause is logged here, never sent.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::engine::EngineError;

/// Stable error codes. Channels, the widget and CRM integrations match on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidFrame,
    MessageTooLarge,
    RateLimited,
    Unauthorized,
    NotFound,
    /// A booking that was cancelled (its calendar file is gone).
    Gone,
    /// Outreach: no customer matches, or they never wrote to the bot.
    CustomerNotFound,
    /// Outreach: the customer asked not to be contacted.
    OptedOut,
    /// Outreach: the customer never agreed to be contacted.
    NoConsent,
    /// Outreach: the customer got the most messages allowed in the window.
    FrequencyCapped,
    /// Outreach: the offered flow does not exist (in the live flows).
    UnknownFlow,
    /// An idempotency key sent again with a different request.
    IdempotencyConflict,
    Overloaded,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidFrame => "invalid_frame",
            Self::MessageTooLarge => "message_too_large",
            Self::RateLimited => "rate_limited",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::Gone => "gone",
            Self::CustomerNotFound => "customer_not_found",
            Self::OptedOut => "opted_out",
            Self::NoConsent => "no_consent",
            Self::FrequencyCapped => "frequency_capped",
            Self::UnknownFlow => "unknown_flow",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::Overloaded => "overloaded",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest | Self::InvalidFrame => StatusCode::BAD_REQUEST,
            Self::MessageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited | Self::FrequencyCapped => StatusCode::TOO_MANY_REQUESTS,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound | Self::CustomerNotFound => StatusCode::NOT_FOUND,
            Self::Gone => StatusCode::GONE,
            Self::OptedOut | Self::IdempotencyConflict => StatusCode::CONFLICT,
            Self::NoConsent => StatusCode::FORBIDDEN,
            Self::UnknownFlow => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Overloaded | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds to wait before retrying (rate limits).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} was not found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.code.status(), Json(&self)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        tracing::error!(cause = %err, "request failed");
        match err {
            EngineError::Store(_) => Self::new(
                ErrorCode::Unavailable,
                "the chat is temporarily unavailable; please try again in a moment",
            ),
            EngineError::UnknownConversation(_) => Self::not_found("the conversation"),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        Self::from(EngineError::Store(err))
    }
}

/// `Json<T>` whose rejections use our error format instead of axum's plain text.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::BytesRejection(_) => {
                    ApiError::new(ErrorCode::MessageTooLarge, "the request body is too large")
                }
                other => ApiError::new(ErrorCode::InvalidRequest, other.body_text()),
            }),
        }
    }
}

/// `Query<T>` whose rejections use our error format.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| ApiError::new(ErrorCode::InvalidRequest, rejection.body_text()))
    }
}
