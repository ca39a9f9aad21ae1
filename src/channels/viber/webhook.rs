//! `POST /webhooks/viber`: every callback is signed by Viber with
//! `X-Viber-Content-Signature`, the hex HMAC-SHA256 of the raw body keyed with the auth
//! token. The signature is checked in constant time on the bytes as received, before
//! anything is parsed or stored; a missing or wrong one is refused with 403.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use super::ViberEventError;
use super::events::{self, ViberEvent};
use crate::http::AppState;
use crate::http::{ApiError, ErrorCode};

/// The header that carries the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Viber-Content-Signature";

/// Whether `signature` is the hex HMAC-SHA256 of `body` keyed with `token`. The
/// comparison takes the same time wherever the bytes differ.
pub fn verify_signature(token: &[u8], body: &[u8], signature: Option<&str>) -> bool {
    let Some(expected) = signature.and_then(|s| decode_hex(s.trim())) else {
        return false;
    };
    let Ok(mut mac) = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(token) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The hex signature of `body` (what Viber puts in the header); for tests and fakes.
pub fn sign(token: &[u8], body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(token)
        .expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn forbidden(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({"code": "invalid_signature", "message": message})),
    )
        .into_response()
}

/// Handles one callback; answers 200 quickly (Viber retries otherwise), with the
/// welcome message in the body for `conversation_started`.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(channel) = state.viber.clone() else {
        return ApiError::not_found(
            "the Viber webhook (Viber is off: set VIBER_AUTH_TOKEN to turn it on)",
        )
        .into_response();
    };
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    if signature.is_none() {
        tracing::warn!("a Viber callback without X-Viber-Content-Signature was refused");
        return forbidden(
            "the X-Viber-Content-Signature header is missing; only Viber may call this address",
        );
    }
    if !channel.signed(&body, signature) {
        tracing::warn!("a Viber callback with a wrong signature was refused");
        return forbidden(
            "the X-Viber-Content-Signature header does not sign this body with the bot's token; only Viber may call this address",
        );
    }
    let event = match events::parse(&body) {
        Ok(event) => event,
        Err(err) => {
            return ApiError::new(
                ErrorCode::InvalidRequest,
                format!("{err}; expected a JSON object with an \"event\" field as Viber documents"),
            )
            .into_response();
        }
    };
    match dispatch(&channel, event).await {
        Ok(Some(welcome)) => Json(welcome).into_response(),
        Ok(None) => Json(json!({})).into_response(),
        Err(err) => {
            tracing::error!(cause = %err, "a Viber callback could not be handled; Viber sends it again");
            ApiError::new(
                ErrorCode::Unavailable,
                "the callback could not be handled now; please send it again",
            )
            .into_response()
        }
    }
}

async fn dispatch(
    channel: &super::ViberChannel,
    event: ViberEvent,
) -> Result<Option<super::api::SendMessage>, ViberEventError> {
    match event {
        ViberEvent::Webhook { .. } => {
            tracing::info!("Viber checked the webhook");
            Ok(None)
        }
        ViberEvent::ConversationStarted {
            user,
            context,
            message_token,
            ..
        } => {
            channel
                .conversation_started(&user, context, message_token.as_deref())
                .await
        }
        ViberEvent::Subscribed { user, .. } => channel.subscribed(&user).await.map(|()| None),
        ViberEvent::Unsubscribed { user_id, .. } => {
            channel.unsubscribed(&user_id).await.map(|()| None)
        }
        ViberEvent::Message {
            sender,
            message,
            message_token,
        } => channel
            .message(&sender, &message, message_token.as_deref())
            .await
            .map(|()| None),
        ViberEvent::Delivered(receipt) => Ok(channel
            .receipt("delivered", &receipt)
            .await
            .map(|()| None)?),
        ViberEvent::Seen(receipt) => Ok(channel.receipt("seen", &receipt).await.map(|()| None)?),
        ViberEvent::Failed(receipt) => {
            Ok(channel.receipt("failed", &receipt).await.map(|()| None)?)
        }
        ViberEvent::Other => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently: `printf '%s' '{"event":"webhook","timestamp":1457764197627,"message_token":241256543215}'
    /// | openssl dgst -sha256 -hmac '445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9'`.
    const TOKEN: &str = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9";
    const BODY: &str =
        r#"{"event":"webhook","timestamp":1457764197627,"message_token":241256543215}"#;

    #[test]
    fn a_known_signature_verifies_and_anything_else_does_not() {
        let signature = sign(TOKEN.as_bytes(), BODY.as_bytes());
        assert_eq!(signature, KNOWN_SIGNATURE);
        assert!(verify_signature(
            TOKEN.as_bytes(),
            BODY.as_bytes(),
            Some(KNOWN_SIGNATURE)
        ));
        assert!(verify_signature(
            TOKEN.as_bytes(),
            BODY.as_bytes(),
            Some(&KNOWN_SIGNATURE.to_uppercase())
        ));
        assert!(!verify_signature(TOKEN.as_bytes(), BODY.as_bytes(), None));
        assert!(!verify_signature(
            TOKEN.as_bytes(),
            BODY.as_bytes(),
            Some("")
        ));
        assert!(!verify_signature(
            TOKEN.as_bytes(),
            BODY.as_bytes(),
            Some("zz")
        ));
        assert!(!verify_signature(
            b"another-token",
            BODY.as_bytes(),
            Some(KNOWN_SIGNATURE)
        ));
        let tampered = BODY.replace("webhook", "message");
        assert!(!verify_signature(
            TOKEN.as_bytes(),
            tampered.as_bytes(),
            Some(KNOWN_SIGNATURE)
        ));
    }

    const KNOWN_SIGNATURE: &str =
        "bd52434b46be1542d32bfa5e3332b757b927e183c5ef3b20a5f9877207dc55b9";
}
