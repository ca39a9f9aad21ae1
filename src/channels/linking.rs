//! One customer across channels: the widget offers "continue on Telegram/Viber" with a
//! deep link that carries a one-time token; the first `/start <token>` (Telegram) or
//! `conversation_started` with that context (Viber) links the new identity to the web
//! customer and carries the conversation over.
//!
//! A token is a bearer credential for someone's conversation, so only its SHA-256 is
//! stored, it works once, for one channel, for [`LINK_TTL`]; and the transcript of the
//! new conversation records [`LINKED_START`], never the token.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::engine::{
    ChannelKind, Engine, EngineError, InboundContent, LINKED_START, Language, Outbound, Reply,
};
use crate::knowledge::document::content_hash;
use crate::leads::merge::{MergedLeads, merge_leads};
use crate::store::{
    AuditEntry, AuditStore, ConversationHandle, ConversationStore, LeadRecord, LeadStore, LeadTx,
    NewOutboxMessage, Store, StoreError, now_ms,
};

/// Start payloads that are link tokens begin with this.
pub const LINK_PREFIX: &str = "lnk_";

/// How long a link works after the widget asked for it.
pub const LINK_TTL: Duration = Duration::from_secs(30 * 60);

/// Random bytes in a token: 24 bytes are 32 base64url characters, so a token is 36
/// characters, within Telegram's 64 for a start parameter (`A-Za-z0-9_-`).
const TOKEN_BYTES: usize = 24;

/// What the customer is told when their link was used already or is too old.
const STALE_LINK: [(Language, &str); 2] = [
    (
        Language::Es,
        "Ese enlace ya se usó o venció; seguimos aquí desde el inicio.",
    ),
    (
        Language::En,
        "That link was already used or has expired; let's start here from the beginning.",
    ),
];

/// Why a link could not be offered.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{0} is not set up on this server, so there is no link to it")]
    NotConfigured(ChannelKind),
    #[error(
        "the {0} bot account is not known yet (it is learnt when the channel starts); try again in a minute"
    )]
    AccountUnknown(ChannelKind),
    #[error("only a web widget conversation can be continued on another channel, not a {0} one")]
    NotWebConversation(ChannelKind),
    #[error("could not store the link: {0}")]
    Store(#[from] StoreError),
}

/// A link the widget shows: it opens the bot with a one-time token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkOffer {
    pub url: String,
    pub expires_at: jiff::Timestamp,
}

/// A token to store: only its hash, whose conversation it continues, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLinkToken<'a> {
    pub token_hash: &'a str,
    pub conversation_id: &'a str,
    pub customer_id: &'a str,
    pub channel: ChannelKind,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A token that was just used: the web conversation it continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemedLink {
    pub conversation_id: String,
    /// The web customer when the link was issued (may have been merged since).
    pub customer_id: String,
}

/// The link tokens' table.
#[async_trait]
pub trait LinkStore: Send + Sync {
    async fn save_link_token(&self, token: &NewLinkToken<'_>) -> Result<(), StoreError>;

    /// Marks the token used by `used_by` (a conversation id) if it is unused, for
    /// `channel` and not expired at `now` — atomically, so two redemptions racing get
    /// one winner. `None` when it is not redeemable.
    async fn redeem_link_token(
        &self,
        token_hash: &str,
        channel: ChannelKind,
        used_by: &str,
        now: i64,
    ) -> Result<Option<RedeemedLink>, StoreError>;

    /// Which conversation used the token, if it was used.
    async fn link_token_used_by(&self, token_hash: &str) -> Result<Option<String>, StoreError>;
}

/// Issues and redeems link tokens.
pub struct Linker {
    store: Store,
    links: Arc<dyn LinkStore>,
    engine: Arc<Engine>,
    /// Where the links point; learnt from the channels when they start.
    targets: RwLock<LinkTargets>,
}

/// The bot accounts links open.
#[derive(Debug, Clone, Default)]
pub struct LinkTargets {
    /// `https://t.me/<username>?start=<token>`.
    pub telegram_username: Option<String>,
    /// `viber://pa?chatURI=<uri>&context=<token>`.
    pub viber_chat_uri: Option<String>,
}

impl LinkTargets {
    /// The deep link that opens `channel`'s bot with `token`, when the account is known.
    fn url(&self, channel: ChannelKind, token: &str) -> Result<String, LinkError> {
        let unknown = || LinkError::AccountUnknown(channel);
        let url = match channel {
            ChannelKind::Telegram => {
                let username = self.telegram_username.as_deref().ok_or_else(unknown)?;
                let base = format!("https://t.me/{}", username.trim_start_matches('@'));
                reqwest::Url::parse_with_params(&base, [("start", token)])
            }
            ChannelKind::Viber => {
                let uri = self.viber_chat_uri.as_deref().ok_or_else(unknown)?;
                reqwest::Url::parse_with_params(
                    "viber://pa",
                    [("chatURI", uri), ("context", token)],
                )
            }
            other => return Err(LinkError::NotConfigured(other)),
        };
        // Only a username or chat URI that is not URL material gets here (settings and
        // the platforms give plain names): the link is unusable, not a server fault.
        url.map(String::from).map_err(|_| unknown())
    }
}

/// What a `Start` payload is to the linker.
enum StartPayload {
    Link { token_hash: String },
    Other(Option<String>),
}

impl StartPayload {
    fn of(payload: Option<String>) -> Self {
        match payload {
            Some(payload) if payload.starts_with(LINK_PREFIX) => Self::Link {
                token_hash: content_hash(payload.as_bytes()),
            },
            other => Self::Other(other),
        }
    }
}

impl Linker {
    pub fn new(store: Store, engine: Arc<Engine>) -> Self {
        Self {
            links: Arc::new(store.clone()),
            store,
            engine,
            targets: RwLock::default(),
        }
    }

    /// The Telegram bot's username (from settings or `getMe`).
    pub fn set_telegram_username(&self, username: String) {
        self.targets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .telegram_username = Some(username);
    }

    /// The Viber bot's chat URI (from settings or `get_account_info`).
    pub fn set_viber_chat_uri(&self, uri: String) {
        self.targets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .viber_chat_uri = Some(uri);
    }

    /// Where links point now.
    pub fn targets(&self) -> LinkTargets {
        self.targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a link to `channel` can be offered now (its bot account is known).
    pub fn can_link(&self, channel: ChannelKind) -> bool {
        let targets = self.targets();
        match channel {
            ChannelKind::Telegram => targets.telegram_username.is_some(),
            ChannelKind::Viber => targets.viber_chat_uri.is_some(),
            ChannelKind::Web | ChannelKind::Cli => false,
        }
    }

    /// A one-time link that continues the web conversation `web` on `channel`.
    pub async fn issue(
        &self,
        web: &ConversationHandle,
        channel: ChannelKind,
    ) -> Result<LinkOffer, LinkError> {
        if web.channel != ChannelKind::Web {
            return Err(LinkError::NotWebConversation(web.channel));
        }
        let bytes: [u8; TOKEN_BYTES] = rand::random();
        let token = format!("{LINK_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let url = self.targets().url(channel, &token)?;
        let now = jiff::Timestamp::now();
        let expires_at = now.checked_add(LINK_TTL).map_err(|err| {
            StoreError::Invalid(format!("a link expiry past the calendar: {err}"))
        })?;
        self.links
            .save_link_token(&NewLinkToken {
                token_hash: &content_hash(token.as_bytes()),
                conversation_id: &web.id,
                customer_id: &web.customer_id,
                channel,
                created_at: now.as_millisecond(),
                expires_at: expires_at.as_millisecond(),
            })
            .await?;
        Ok(LinkOffer { url, expires_at })
    }

    /// Handles a channel's `Start` event: a link token links and continues the web
    /// conversation; anything else starts as usual (deep links to flows included).
    pub async fn start(
        &self,
        conversation: &ConversationHandle,
        payload: Option<String>,
        channel_message_id: Option<&str>,
    ) -> Result<Vec<Outbound>, EngineError> {
        let token_hash = match StartPayload::of(payload) {
            StartPayload::Other(payload) => {
                return self
                    .engine
                    .handle(
                        conversation,
                        InboundContent::Start { payload },
                        channel_message_id,
                    )
                    .await;
            }
            StartPayload::Link { token_hash } => token_hash,
        };
        let redeemed = self
            .links
            .redeem_link_token(
                &token_hash,
                conversation.channel,
                &conversation.id,
                now_ms(),
            )
            .await?;
        match redeemed {
            Some(link) => {
                self.continue_linked(conversation, link, channel_message_id)
                    .await
            }
            // The platform redelivered the start, or the customer tapped the link again:
            // the conversation is already carried over; greet it as linked again (a
            // redelivery gets its first replies back from the engine).
            None if self.links.link_token_used_by(&token_hash).await?.as_deref()
                == Some(conversation.id.as_str()) =>
            {
                self.handle_linked_start(conversation, channel_message_id)
                    .await
            }
            None => self.refuse_stale(conversation, channel_message_id).await,
        }
    }

    /// Makes the new identity the web customer, copies the web conversation's session
    /// over and greets the customer with the question they were at.
    async fn continue_linked(
        &self,
        conversation: &ConversationHandle,
        link: RedeemedLink,
        channel_message_id: Option<&str>,
    ) -> Result<Vec<Outbound>, EngineError> {
        // The web conversation's current customer: records may have merged since.
        let web_customer = self
            .store
            .conversation(&link.conversation_id)
            .await?
            .map(|c| c.customer_id)
            .unwrap_or(link.customer_id);
        let survivor =
            merge_customers(&self.store, &conversation.customer_id, &web_customer).await?;
        // The merge may have moved this conversation to the other record.
        let target = match self.store.recipient(&conversation.id).await? {
            Some(recipient) => self
                .engine
                .find(&recipient.identity())
                .await?
                .unwrap_or_else(|| conversation.clone()),
            None => conversation.clone(),
        };
        self.engine.adopt(&target, &link.conversation_id).await?;
        let replies = self
            .handle_linked_start(&target, channel_message_id)
            .await?;
        let entry = AuditEntry {
            at: now_ms(),
            actor: format!("customer:{}", target.channel),
            action: "channel.linked".into(),
            subject: Some(survivor.clone()),
            detail: Some(json!({
                "channel": target.channel.as_str(),
                "from_conversation": link.conversation_id,
                "to_conversation": target.id,
                "merged_customers": [web_customer, conversation.customer_id],
            })),
        };
        // The link is made; a missing audit line is logged, not shown to the customer.
        if let Err(err) = self.store.record(&entry).await {
            tracing::error!(cause = %err, conversation = %target.id, "could not write the audit entry of a channel link");
        }
        tracing::info!(conversation = %target.id, from = %link.conversation_id, customer = %survivor, "web conversation continued on {}", target.channel);
        Ok(replies)
    }

    async fn handle_linked_start(
        &self,
        conversation: &ConversationHandle,
        channel_message_id: Option<&str>,
    ) -> Result<Vec<Outbound>, EngineError> {
        self.engine
            .handle(
                conversation,
                InboundContent::Start {
                    payload: Some(LINKED_START.to_owned()),
                },
                channel_message_id,
            )
            .await
    }

    /// A used, expired or unknown token: the customer is told and starts afresh. The
    /// note is committed (pushed, keyed to this start so a redelivery does not repeat
    /// it) and returned first, so the channel sends it before the greeting.
    async fn refuse_stale(
        &self,
        conversation: &ConversationHandle,
        channel_message_id: Option<&str>,
    ) -> Result<Vec<Outbound>, EngineError> {
        let language = self.engine.language_of(&conversation.id).await?;
        let note = STALE_LINK
            .iter()
            .find(|(l, _)| *l == language)
            .map_or(STALE_LINK[0].1, |(_, text)| text);
        let dedupe_key =
            channel_message_id.map(|id| format!("link:stale:{}:{id}", conversation.id));
        let mut replies = self
            .engine
            .push(
                &conversation.id,
                vec![Reply::text(note)],
                dedupe_key.as_deref(),
            )
            .await?;
        replies.extend(
            self.engine
                .handle(
                    conversation,
                    InboundContent::Start { payload: None },
                    channel_message_id,
                )
                .await?,
        );
        Ok(replies)
    }
}

/// Makes `a` and `b` one customer record (the older survives and takes identities,
/// conversations, consents, bookings and leads); returns the survivor's id. Leads that
/// both had become one, as the leads desk does when it finds a duplicate.
async fn merge_customers(leads: &dyn LeadStore, a: &str, b: &str) -> Result<String, StoreError> {
    let mut tx = leads.begin_lead(a, &[b.to_owned()]).await?;
    if tx.customer().await?.id == b {
        return Ok(b.to_owned());
    }
    let folded = tx.absorb(b).await?;
    let survivor = tx.customer().await?.id;
    fold_leads(&mut *tx, &survivor, folded).await?;
    tx.commit().await?;
    Ok(survivor)
}

/// After a merge, keeps one active lead (see [`merge_leads`]) and tells the CRM about
/// the merged leads it had.
async fn fold_leads(
    tx: &mut dyn LeadTx,
    survivor: &str,
    folded: Vec<LeadRecord>,
) -> Result<(), StoreError> {
    if folded.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let Some(MergedLeads {
        mut kept,
        announced,
    }) = merge_leads(tx, survivor, folded, now).await?
    else {
        return Ok(());
    };
    for lead_id in announced {
        tx.enqueue(&NewOutboxMessage {
            event: "lead.updated".into(),
            lead_id: Some(lead_id),
            customer_id: Some(survivor.to_owned()),
            body: None,
            dedupe_key: None,
            coalesce: true,
            not_before: now,
        })
        .await?;
    }
    kept.updated_at = now;
    kept.revision += 1;
    tx.save_lead(&kept).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_and_viber_links_carry_the_token() {
        let targets = LinkTargets {
            telegram_username: Some("AutosDelValleBot".into()),
            viber_chat_uri: Some("autosdelvalle".into()),
        };
        let token = "lnk_AbC-_9";
        assert_eq!(
            targets.url(ChannelKind::Telegram, token).unwrap(),
            "https://t.me/AutosDelValleBot?start=lnk_AbC-_9"
        );
        assert_eq!(
            targets.url(ChannelKind::Viber, token).unwrap(),
            "viber://pa?chatURI=autosdelvalle&context=lnk_AbC-_9"
        );
        assert!(matches!(
            LinkTargets::default().url(ChannelKind::Telegram, token),
            Err(LinkError::AccountUnknown(ChannelKind::Telegram))
        ));
        assert!(matches!(
            targets.url(ChannelKind::Web, token),
            Err(LinkError::NotConfigured(ChannelKind::Web))
        ));
    }

    #[test]
    fn link_payloads_are_hashed_and_others_pass_through() {
        match StartPayload::of(Some("lnk_secret".into())) {
            StartPayload::Link { token_hash } => {
                assert_eq!(token_hash.len(), 64);
                assert!(!token_hash.contains("secret"));
            }
            StartPayload::Other(_) => panic!("a link token was not recognised"),
        }
        assert!(matches!(
            StartPayload::of(Some("prueba".into())),
            StartPayload::Other(Some(p)) if p == "prueba"
        ));
        assert!(matches!(StartPayload::of(None), StartPayload::Other(None)));
    }

    #[test]
    fn tokens_fit_telegram_start_parameters() {
        let bytes: [u8; TOKEN_BYTES] = rand::random();
        let token = format!("{LINK_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(token.len(), LINK_PREFIX.len() + 32);
        assert!(token.len() <= 64);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
    }
}
