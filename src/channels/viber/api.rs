//! Viber's REST bot API as documented (developers.viber.com/docs/api/rest-bot-api,
//! creators.viber.com/docs/bots-api): the bodies we send (`set_webhook`, `send_message`
//! with its keyboard), the answers (`{"status": N, "status_message": …}`, HTTP 200 even on
//! errors) and the status codes that decide what a failed send means.

use serde::{Deserialize, Serialize};

/// Viber's limit on a text message, in characters.
pub const MAX_TEXT_CHARS: usize = 7_000;
/// The most buttons one keyboard may hold.
pub const MAX_KEYBOARD_BUTTONS: usize = 24;
/// The oldest client version that shows `share-phone` buttons.
pub const SHARE_PHONE_API_VERSION: u32 = 3;
/// `tracking_data` is echoed back with the customer's next message; at most this long.
pub const MAX_TRACKING_DATA: usize = 4_096;

/// The callbacks we ask Viber for (`message` always comes, it cannot be filtered).
pub const EVENT_TYPES: &[&str] = &[
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
];

/// `POST /set_webhook`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SetWebhook {
    pub url: String,
    pub event_types: Vec<String>,
    pub send_name: bool,
    pub send_photo: bool,
}

/// The sender shown on a message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sender {
    /// At most 28 characters.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// `POST /send_message` with `type: "text"`. Without `receiver` it is the answer to a
/// `conversation_started` callback (the welcome message).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SendMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    pub min_api_version: u32,
    pub sender: Sender,
    pub tracking_data: String,
    /// Always `"text"`: showroom sends text with a keyboard.
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyboard: Option<Keyboard>,
}

/// A custom keyboard under a message; the app shows the last keyboard it got.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Keyboard {
    /// Always `"keyboard"`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `false`: a short keyboard takes only the height it needs.
    pub default_height: bool,
    pub buttons: Vec<KeyboardButton>,
}

/// One key of a keyboard (a grid six columns wide).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct KeyboardButton {
    /// 1 to 6.
    pub columns: u8,
    /// 1 to 2 here.
    pub rows: u8,
    pub action_type: ActionType,
    /// For `reply`: what the app sends back as the customer's text message.
    pub action_body: String,
    /// The label.
    pub text: String,
    /// `true`: the press is not shown as a message in the chat (our action bodies are
    /// codes, not words).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub silent: bool,
}

/// What pressing a key does.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ActionType {
    /// Sends `ActionBody` as a text message.
    Reply,
    /// Sends the customer's own phone number as a `contact` message (api level 3+).
    SharePhone,
    /// Opens a URL; not used by showroom but valid in a keyboard.
    OpenUrl,
    /// Does nothing.
    None,
    /// Sends the customer's location.
    LocationPicker,
}

/// Every answer of the API: HTTP 200 with a status; 0 is success.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ApiAnswer {
    pub status: i64,
    #[serde(default)]
    pub status_message: String,
    /// `send_message`: the sent message's id (receipts refer to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_token: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_hostname: Option<String>,
    /// `get_account_info`: the bot's chat URI, for `viber://pa?chatURI=…` links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Viber's status codes (its "Error Codes" table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViberStatus {
    Ok,
    InvalidUrl,
    InvalidAuthToken,
    BadData,
    MissingData,
    ReceiverNotRegistered,
    ReceiverNotSubscribed,
    PublicAccountBlocked,
    PublicAccountNotFound,
    PublicAccountSuspended,
    WebhookNotSet,
    ReceiverNoSuitableDevice,
    TooManyRequests,
    ApiVersionNotSupported,
    IncompatibleWithVersion,
    PublicAccountNotAuthorized,
    InChatReplyMessageNotAllowed,
    PublicAccountIsNotInline,
    NoPublicChat,
    CannotSendBroadcast,
    BroadcastNotAllowed,
    UnsupportedCountry,
    PaymentUnsupported,
    FreeMessagesExceeded,
    NoBalance,
    GeneralError,
    Other(i64),
}

impl ViberStatus {
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => Self::Ok,
            1 => Self::InvalidUrl,
            2 => Self::InvalidAuthToken,
            3 => Self::BadData,
            4 => Self::MissingData,
            5 => Self::ReceiverNotRegistered,
            6 => Self::ReceiverNotSubscribed,
            7 => Self::PublicAccountBlocked,
            8 => Self::PublicAccountNotFound,
            9 => Self::PublicAccountSuspended,
            10 => Self::WebhookNotSet,
            11 => Self::ReceiverNoSuitableDevice,
            12 => Self::TooManyRequests,
            13 => Self::ApiVersionNotSupported,
            14 => Self::IncompatibleWithVersion,
            15 => Self::PublicAccountNotAuthorized,
            16 => Self::InChatReplyMessageNotAllowed,
            17 => Self::PublicAccountIsNotInline,
            18 => Self::NoPublicChat,
            19 => Self::CannotSendBroadcast,
            20 => Self::BroadcastNotAllowed,
            21 => Self::UnsupportedCountry,
            22 => Self::PaymentUnsupported,
            23 => Self::FreeMessagesExceeded,
            24 => Self::NoBalance,
            _ if code < 0 => Self::GeneralError,
            other => Self::Other(other),
        }
    }

    /// The customer cannot be written to (not a Viber user, not subscribed, no device
    /// that can show bot messages): stop trying.
    pub fn is_unreachable(self) -> bool {
        matches!(
            self,
            Self::ReceiverNotRegistered
                | Self::ReceiverNotSubscribed
                | Self::ReceiverNoSuitableDevice
        )
    }

    /// What the operator should do about a status that no retry fixes, for the log.
    pub fn operator_hint(self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidAuthToken => {
                "Viber refused VIBER_AUTH_TOKEN: copy the bot's token again from the Viber Admin Panel (Edit info → Your app key) and restart"
            }
            Self::BadData | Self::MissingData => {
                "Viber refused the message's format: this is a showroom bug, please report it with this log line"
            }
            Self::ApiVersionNotSupported | Self::IncompatibleWithVersion => {
                "Viber refused the keyboard for its api version: check viber.min_api_version in showroom.toml (share-phone buttons need 3 or more)"
            }
            Self::PublicAccountBlocked
            | Self::PublicAccountNotFound
            | Self::PublicAccountSuspended
            | Self::PublicAccountNotAuthorized => {
                "the Viber bot account is blocked, suspended or unknown: check it in the Viber Admin Panel"
            }
            Self::WebhookNotSet => {
                "Viber has no webhook for this bot: set VIBER_WEBHOOK_URL to showroom's public https address of /webhooks/viber and restart"
            }
            Self::InvalidUrl => {
                "Viber refused VIBER_WEBHOOK_URL: it must be a public https:// address with a valid certificate that answers POST /webhooks/viber"
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_map_to_what_a_send_means() {
        assert_eq!(ViberStatus::from_code(0), ViberStatus::Ok);
        for code in [5, 6, 11] {
            assert!(ViberStatus::from_code(code).is_unreachable(), "{code}");
        }
        assert_eq!(ViberStatus::from_code(12), ViberStatus::TooManyRequests);
        assert!(!ViberStatus::TooManyRequests.is_unreachable());
        for code in [2, 3, 13, 14] {
            assert!(
                ViberStatus::from_code(code).operator_hint().is_some(),
                "{code}"
            );
        }
        assert_eq!(ViberStatus::from_code(99), ViberStatus::Other(99));
    }

    #[test]
    fn a_keyboard_serializes_with_viber_s_field_names() {
        let keyboard = Keyboard {
            kind: "keyboard".into(),
            default_height: false,
            buttons: vec![KeyboardButton {
                columns: 6,
                rows: 1,
                action_type: ActionType::SharePhone,
                action_body: "phone".into(),
                text: "📱 Compartir mi número".into(),
                silent: false,
            }],
        };
        assert_eq!(
            serde_json::to_value(&keyboard).unwrap(),
            json!({"Type": "keyboard", "DefaultHeight": false, "Buttons": [{
                "Columns": 6, "Rows": 1, "ActionType": "share-phone",
                "ActionBody": "phone", "Text": "📱 Compartir mi número"}]})
        );
    }

    #[test]
    fn documented_answers_parse() {
        let sent: ApiAnswer = serde_json::from_value(json!({
            "status": 0, "status_message": "ok",
            "message_token": 5741311803571721087u64, "chat_hostname": "SN-CHAT-05_"}))
        .unwrap();
        assert_eq!(sent.status, 0);
        assert!(sent.message_token.is_some());
        let account: ApiAnswer = serde_json::from_value(json!({
            "status": 0, "status_message": "ok", "id": "pa:75346594275468546724",
            "name": "account name", "uri": "accountUri", "icon": "http://example.com",
            "subscribers_count": 35, "members": []}))
        .unwrap();
        assert_eq!(account.uri.as_deref(), Some("accountUri"));
    }
}
