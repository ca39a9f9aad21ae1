//! `POST /webhooks/telegram`: Telegram's requests carry the secret we registered with
//! `setWebhook` in `X-Telegram-Bot-Api-Secret-Token`; anything without it is refused
//! before its body is even parsed, and nothing of it is processed or stored.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use super::client::TelegramClient;
use super::settings::UpdateMode;
use crate::http::{ApiError, AppState, ErrorCode};

/// The header Telegram puts the webhook's secret token in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// `POST /webhooks/telegram`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/webhooks/telegram", post(receive))
}

async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(channel) = state.telegram.as_ref() else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "Telegram is not configured on this server (TELEGRAM_BOT_TOKEN is unset)",
        ));
    };
    let UpdateMode::Webhook { secret, .. } = &channel.config.mode else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "Telegram runs in long-polling mode on this server (TELEGRAM_WEBHOOK_URL is unset), so it takes no webhook requests",
        ));
    };
    if !secret_matches(headers.get(SECRET_HEADER).map(|v| v.as_bytes()), secret) {
        tracing::warn!(
            "a request to the Telegram webhook without the right secret token was refused"
        );
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "missing or wrong X-Telegram-Bot-Api-Secret-Token: only Telegram, with the secret registered by setWebhook (TELEGRAM_WEBHOOK_SECRET), may post here",
        ));
    }
    let update = super::update::parse_update(&body).map_err(|err| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("the body is not a Telegram Update object: {err}"),
        )
    })?;
    // An update we could not take gets a 503, so Telegram sends it again later.
    channel.handle_update(&update).await.map_err(|_| {
        ApiError::new(
            ErrorCode::Unavailable,
            "the update could not be stored now; send it again",
        )
    })?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

/// Compares in constant time, so the secret cannot be guessed byte by byte from timings.
fn secret_matches(given: Option<&[u8]>, secret: &str) -> bool {
    given.is_some_and(|given| bool::from(given.ct_eq(secret.as_bytes())))
}

/// `setWebhook` until Telegram takes it or the server stops.
pub async fn register(client: &TelegramClient, url: &str, secret: &str, token: &CancellationToken) {
    let mut attempt = 0;
    loop {
        let result = tokio::select! {
            () = token.cancelled() => return,
            result = client.set_webhook(url, secret) => result,
        };
        match result {
            Ok(()) => {
                tracing::info!(%url, "Telegram webhook registered");
                return;
            }
            Err(err) => {
                tracing::warn!(cause = %err, %url, "could not register the Telegram webhook (setWebhook); trying again");
                let wait = crate::outbound::backoff(std::time::Duration::from_millis(500), attempt);
                attempt += 1;
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_passes() {
        assert!(secret_matches(Some(b"s3cr3t"), "s3cr3t"));
        assert!(!secret_matches(Some(b"s3cr3"), "s3cr3t"));
        assert!(!secret_matches(Some(b"s3cr3t "), "s3cr3t"));
        assert!(!secret_matches(Some(b""), "s3cr3t"));
        assert!(!secret_matches(None, "s3cr3t"));
    }
}
