//! One customer across channels, on the real engine with the shipped flows and a real
//! SQLite file: a widget conversation continued on Telegram through a one-time link
//! (used links and expired ones refused with a note), the same phone on Telegram and the
//! web merged into one customer and one lead, the relay that sends what nobody
//! delivered, and the link and relay queries on both backends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use showroom::channels::delivery::{Deliver, DeliveryError};
use showroom::channels::linking::{LINK_PREFIX, LinkStore, Linker, NewLinkToken};
use showroom::channels::relay::{RelayTiming, run_with};
use showroom::channels::web::SessionToken;
use showroom::config::{Config, StoreConfig};
use showroom::engine::{
    ChannelIdentity, ChannelKind, Engine, InboundContent, LINKED_START, Language, Outbound, Reply,
};
use showroom::store::{
    AuditStore, ConversationHandle, ConversationStore, LeadFilter, LeadStatus, LeadStore, Store,
    now_ms,
};
use tokio_util::sync::CancellationToken;

use serde_json::{Value, json};

use crate::support::{Deployment, PgDatabase, WebChat, free_port, wait_for};

const SHIPPED_FLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/flows");
const STALE_NOTE: &str = "Ese enlace ya se usó o venció; seguimos aquí desde el inicio.";

/// The engine and store of `showroom serve`, with the shipped flows, in `dir`.
async fn services(dir: &tempfile::TempDir) -> (Store, Arc<Engine>) {
    let mut config = Config::defaults_with_data_dir(dir.path()).unwrap();
    config.flows_dir = SHIPPED_FLOWS.into();
    config.knowledge_dir = dir.path().join("no-knowledge");
    let services = showroom::server::open(&config).await.unwrap();
    (services.store, services.engine)
}

fn texts(replies: &[Outbound]) -> String {
    replies
        .iter()
        .map(|r| r.reply.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A customer on one channel, talking to the engine as that channel's adapter would.
struct Customer {
    engine: Arc<Engine>,
    conversation: ConversationHandle,
    last: Vec<Outbound>,
}

impl Customer {
    async fn open(engine: &Arc<Engine>, identity: ChannelIdentity) -> Self {
        let conversation = engine.open(&identity).await.unwrap();
        Self {
            engine: engine.clone(),
            conversation,
            last: Vec::new(),
        }
    }

    async fn send(&mut self, content: InboundContent) -> String {
        self.last = self
            .engine
            .handle(&self.conversation, content, None)
            .await
            .unwrap();
        texts(&self.last)
    }

    async fn say(&mut self, text: &str) -> String {
        self.send(InboundContent::Text { text: text.into() }).await
    }

    /// Presses the button titled `title` under the last replies.
    async fn press(&mut self, title: &str) -> String {
        let payload = self
            .last
            .iter()
            .rev()
            .flat_map(|r| r.reply.buttons.iter())
            .find(|b| b.title == title)
            .unwrap_or_else(|| panic!("no button `{title}` in {:#?}", self.last))
            .payload
            .clone();
        self.send(InboundContent::Button { payload }).await
    }

    /// Presses the first button of the last reply that has buttons.
    async fn press_first(&mut self) -> String {
        let title = self
            .last
            .iter()
            .rev()
            .find_map(|r| r.reply.buttons.first())
            .unwrap_or_else(|| panic!("no buttons in {:#?}", self.last))
            .title
            .clone();
        self.press(&title).await
    }
}

fn token_of(url: &str) -> String {
    url.split("start=")
        .nth(1)
        .unwrap_or_else(|| panic!("no start parameter in {url}"))
        .to_owned()
}

#[tokio::test]
async fn a_web_conversation_continues_on_telegram_as_one_customer() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine) = services(&dir).await;
    let linker = Linker::new(store.clone(), engine.clone());
    linker.set_telegram_username("AutosDelValleBot".into());

    // Halfway through the test drive on the web: consent given, name given.
    let session = SessionToken::generate();
    let mut web = Customer::open(&engine, session.identity()).await;
    web.send(InboundContent::Start { payload: None }).await;
    let asked = web.press("Prueba de manejo").await;
    assert!(asked.contains("¿Qué modelo quieres manejar?"), "{asked}");
    web.say("tiguan").await;
    let asked = web.press("Sede Norte").await;
    assert!(asked.contains("¿Qué día te queda bien?"), "{asked}");
    web.press_first().await;
    let asked = web.press_first().await;
    assert!(asked.contains("¿Nos autorizas?"), "{asked}");
    let asked = web.press("Sí, autorizo").await;
    assert!(asked.contains("¿Cómo te llamas?"), "{asked}");
    let phone_question = web.say("Ana María Gómez").await;
    assert!(phone_question.contains("celular"), "{phone_question}");

    let offer = linker
        .issue(&web.conversation, ChannelKind::Telegram)
        .await
        .unwrap();
    assert!(
        offer.url.starts_with(&format!(
            "https://t.me/AutosDelValleBot?start={LINK_PREFIX}"
        )),
        "{}",
        offer.url
    );
    let minutes = (offer.expires_at - jiff::Timestamp::now())
        .total(jiff::Unit::Minute)
        .unwrap();
    assert!((29.0..=30.0).contains(&minutes), "expires in {minutes} min");
    let token = token_of(&offer.url);
    assert!(token.len() <= 64, "{token}");

    // `/start <token>` on Telegram: the same question again, the answers kept.
    let telegram_id = ChannelIdentity::new(ChannelKind::Telegram, "5550001");
    let mut telegram = Customer::open(&engine, telegram_id.clone()).await;
    let started = linker
        .start(
            &telegram.conversation,
            Some(token.clone()),
            Some("update-1"),
        )
        .await
        .unwrap();
    let said = texts(&started);
    assert!(
        said.starts_with("¡Listo! Seguimos aquí la conversación que empezaste en la web."),
        "{said}"
    );
    assert!(said.contains("celular"), "the phone is asked again: {said}");
    // A redelivered update gets the same replies, not a second link.
    let again = linker
        .start(
            &telegram.conversation,
            Some(token.clone()),
            Some("update-1"),
        )
        .await
        .unwrap();
    assert_eq!(again, started);

    telegram.conversation = engine.find(&telegram_id).await.unwrap().unwrap();
    telegram.last = started;
    let confirm = telegram.say("300 123 4567").await;
    assert!(
        confirm.contains("Confirmemos: prueba de manejo del Tiguan en Sede Norte")
            && confirm.contains("a nombre de Ana María Gómez"),
        "the web answers are kept: {confirm}"
    );
    let booked = telegram.press("Sí, agendar").await;
    assert!(
        booked.contains("Tu prueba de manejo quedó agendada"),
        "{booked}"
    );

    // One customer with both identities, one lead.
    let web_now = engine.find(&session.identity()).await.unwrap().unwrap();
    let telegram_now = engine.find(&telegram_id).await.unwrap().unwrap();
    assert_eq!(web_now.customer_id, telegram_now.customer_id);
    let customer = web_now.customer_id.clone();
    let identities = store.channel_identities(&customer).await.unwrap();
    let channels: Vec<&str> = identities.iter().map(|(c, _)| c.as_str()).collect();
    assert!(
        channels.contains(&"web") && channels.contains(&"telegram"),
        "{identities:?}"
    );
    assert!(identities.contains(&("telegram".into(), "5550001".into())));
    let leads = store.leads(&LeadFilter::default()).await.unwrap();
    let active: Vec<_> = leads
        .iter()
        .filter(|l| matches!(l.status, LeadStatus::Open | LeadStatus::HandedOff))
        .collect();
    assert_eq!(active.len(), 1, "{leads:#?}");
    assert_eq!(active[0].customer_id, customer);
    assert_eq!(
        active[0].status,
        LeadStatus::HandedOff,
        "a booking hands off"
    );

    // The token is in no transcript; the link is in the audit log.
    for conversation in [&web_now.id, &telegram_now.id] {
        let transcript = store.transcript(conversation).await.unwrap();
        assert!(
            transcript.iter().all(|m| !m.text.contains(&token)
                && m.payload.as_deref().is_none_or(|p| !p.contains(&token))),
            "{transcript:#?}"
        );
    }
    let started_as = store.transcript(&telegram_now.id).await.unwrap();
    assert_eq!(started_as[0].text, LINKED_START, "{started_as:#?}");
    let audit = store.entries_for(&customer).await.unwrap();
    assert!(
        audit.iter().any(|e| e.action == "channel.linked"),
        "{audit:#?}"
    );

    // The same link on another Telegram account: refused with a note, a fresh start.
    let stranger_id = ChannelIdentity::new(ChannelKind::Telegram, "5550002");
    let stranger = engine.open(&stranger_id).await.unwrap();
    let refused = linker
        .start(&stranger, Some(token.clone()), Some("update-9"))
        .await
        .unwrap();
    assert_eq!(refused[0].reply.text, STALE_NOTE, "{refused:#?}");
    assert!(texts(&refused[1..]).contains("¡Hola!"), "{refused:#?}");
    let stranger = engine.find(&stranger_id).await.unwrap().unwrap();
    assert_ne!(stranger.customer_id, customer);
    // The note was committed like every reply: it is in the transcript.
    let transcript = store.transcript(&stranger.id).await.unwrap();
    assert!(transcript.iter().any(|m| m.text == STALE_NOTE));

    // An expired link is refused too.
    let expired = format!("{LINK_PREFIX}expiredexpiredexpiredexpiredexpi");
    let now = now_ms();
    store
        .save_link_token(&NewLinkToken {
            token_hash: &showroom::knowledge::document::content_hash(expired.as_bytes()),
            conversation_id: &web_now.id,
            customer_id: &customer,
            channel: ChannelKind::Telegram,
            created_at: now - 3_600_000,
            expires_at: now - 1_800_000,
        })
        .await
        .unwrap();
    let late = engine
        .open(&ChannelIdentity::new(ChannelKind::Telegram, "5550003"))
        .await
        .unwrap();
    let refused = linker.start(&late, Some(expired), None).await.unwrap();
    assert_eq!(refused[0].reply.text, STALE_NOTE, "{refused:#?}");

    // An unknown token too, and ordinary deep links still start their flow.
    let unknown = linker
        .start(&late, Some(format!("{LINK_PREFIX}nope")), None)
        .await
        .unwrap();
    assert_eq!(unknown[0].reply.text, STALE_NOTE, "{unknown:#?}");
    let deep = engine
        .open(&ChannelIdentity::new(ChannelKind::Telegram, "5550004"))
        .await
        .unwrap();
    let started = linker
        .start(&deep, Some("prueba".into()), None)
        .await
        .unwrap();
    assert!(
        texts(&started).contains("¿Qué modelo quieres manejar?"),
        "{started:#?}"
    );
    store.close().await;
}

#[tokio::test]
async fn links_are_offered_only_for_known_web_conversations_and_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine) = services(&dir).await;
    let linker = Linker::new(store.clone(), engine.clone());
    let web = engine
        .open(&SessionToken::generate().identity())
        .await
        .unwrap();
    let err = linker
        .issue(&web, ChannelKind::Viber)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("viber bot account is not known yet"), "{err}");
    linker.set_viber_chat_uri("autosdelvalle".into());
    let offer = linker.issue(&web, ChannelKind::Viber).await.unwrap();
    assert!(
        offer.url.starts_with(&format!(
            "viber://pa?chatURI=autosdelvalle&context={LINK_PREFIX}"
        )),
        "{}",
        offer.url
    );
    let telegram = engine
        .open(&ChannelIdentity::new(ChannelKind::Telegram, "1"))
        .await
        .unwrap();
    let err = linker
        .issue(&telegram, ChannelKind::Viber)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("only a web widget conversation"), "{err}");
    // A Viber link does not work on Telegram.
    let token = offer.url.split("context=").nth(1).unwrap().to_owned();
    let refused = linker.start(&telegram, Some(token), None).await.unwrap();
    assert_eq!(refused[0].reply.text, STALE_NOTE);
    store.close().await;
}

#[tokio::test]
async fn the_same_phone_shared_on_telegram_and_typed_on_the_web_is_one_customer() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine) = services(&dir).await;

    let telegram_id = ChannelIdentity::new(ChannelKind::Telegram, "777");
    let mut telegram = Customer::open(&engine, telegram_id.clone()).await;
    let asked = telegram.say("asesor").await;
    assert!(asked.contains("¿Nos autorizas?"), "{asked}");
    telegram.press("Sí, autorizo").await;
    let asked = telegram.say("Juan Pérez").await;
    assert!(asked.contains("celular"), "{asked}");
    assert!(
        telegram.last.iter().any(|r| r.reply.asks_contact),
        "the phone question offers the share-phone button: {:#?}",
        telegram.last
    );
    // Telegram sends a shared contact's number without the plus.
    let asked = telegram
        .send(InboundContent::Contact {
            phone: "573001234567".into(),
        })
        .await;
    assert!(asked.contains("¿En qué te podemos ayudar?"), "{asked}");
    telegram.press("Comprar un carro").await;

    let session = SessionToken::generate();
    let mut web = Customer::open(&engine, session.identity()).await;
    web.send(InboundContent::Start { payload: None }).await;
    web.say("asesor").await;
    web.press("Sí, autorizo").await;
    web.say("Juan P.").await;
    let asked = web.say("300 123 4567").await;
    assert!(asked.contains("¿En qué te podemos ayudar?"), "{asked}");
    web.press("Comprar un carro").await;

    let on_telegram = engine.find(&telegram_id).await.unwrap().unwrap();
    let on_web = engine.find(&session.identity()).await.unwrap().unwrap();
    assert_eq!(on_telegram.customer_id, on_web.customer_id);
    let customer = store
        .customer_record(&on_web.customer_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        customer.profile.phone.as_ref().map(|p| p.as_str()),
        Some("+573001234567")
    );
    assert!(customer.profile.phone_verified, "shared through Telegram");
    let leads = store.leads(&LeadFilter::default()).await.unwrap();
    let active: Vec<_> = leads
        .iter()
        .filter(|l| matches!(l.status, LeadStatus::Open | LeadStatus::HandedOff))
        .collect();
    assert_eq!(active.len(), 1, "{leads:#?}");
    assert_eq!(active[0].customer_id, on_web.customer_id);
    store.close().await;
}

// ---- The relay -------------------------------------------------------------------

/// A channel that records what it is given to send; it refuses the first `failures`
/// sends as a platform having a bad moment would.
struct RecordingChannel {
    failures: AtomicUsize,
    /// The customer blocked the bot: every send is refused as unreachable.
    blocked: bool,
    attempts: AtomicUsize,
    sent: Mutex<Vec<(String, i64, String)>>,
}

impl RecordingChannel {
    fn failing(failures: usize) -> Arc<Self> {
        Arc::new(Self {
            failures: AtomicUsize::new(failures),
            blocked: false,
            attempts: AtomicUsize::new(0),
            sent: Mutex::new(Vec::new()),
        })
    }

    fn blocked() -> Arc<Self> {
        Arc::new(Self {
            failures: AtomicUsize::new(0),
            blocked: true,
            attempts: AtomicUsize::new(0),
            sent: Mutex::new(Vec::new()),
        })
    }

    fn sent(&self) -> Vec<(String, i64, String)> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl Deliver for RecordingChannel {
    fn channel(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    async fn deliver(
        &self,
        external_id: &str,
        replies: &[Outbound],
        _language: Language,
    ) -> (usize, Option<DeliveryError>) {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.blocked {
            return (
                0,
                Some(DeliveryError::Unreachable {
                    channel: ChannelKind::Telegram,
                    reason: "Forbidden: bot was blocked by the user".into(),
                }),
            );
        }
        let refuse = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            return (
                0,
                Some(DeliveryError::Failed {
                    channel: ChannelKind::Telegram,
                    reason: "HTTP 502 from the platform".into(),
                }),
            );
        }
        let mut sent = self.sent.lock().unwrap();
        for reply in replies {
            sent.push((external_id.to_owned(), reply.id, reply.reply.text.clone()));
        }
        (replies.len(), None)
    }
}

fn quick_timing() -> RelayTiming {
    RelayTiming {
        sweep_every: Duration::from_millis(100),
        grace: Duration::from_millis(400),
        push_settle: Duration::from_millis(50),
        first_retry: Duration::from_millis(50),
        unreachable_pause: Duration::from_secs(3600),
    }
}

async fn eventually(what: &str, probe: impl Fn() -> bool) {
    for _ in 0..100 {
        if probe() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 5 s");
}

#[tokio::test]
async fn the_relay_delivers_pushes_retries_failures_and_sweeps_left_over_replies() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine) = services(&dir).await;
    // Two failures first: the push is retried with backoff and arrives once.
    let channel = RecordingChannel::failing(2);
    let token = CancellationToken::new();
    let relay = tokio::spawn(run_with(
        engine.clone(),
        store.clone(),
        vec![channel.clone() as Arc<dyn Deliver>],
        quick_timing(),
        token.clone(),
    ));

    let chat = engine
        .open(&ChannelIdentity::new(ChannelKind::Telegram, "4242"))
        .await
        .unwrap();
    let web = engine
        .open(&SessionToken::generate().identity())
        .await
        .unwrap();
    engine
        .push(&web.id, vec![Reply::text("solo web")], None)
        .await
        .unwrap();
    let pushed = engine
        .push(
            &chat.id,
            vec![Reply::text("Recordatorio: tu cita es mañana")],
            Some("reminder:1"),
        )
        .await
        .unwrap();
    eventually("the push reaching Telegram", || !channel.sent().is_empty()).await;
    let sent = channel.sent();
    assert_eq!(
        sent,
        [(
            "4242".to_owned(),
            pushed[0].id,
            "Recordatorio: tu cita es mañana".to_owned()
        )]
    );
    assert!(channel.attempts.load(Ordering::SeqCst) >= 3);
    assert!(engine.undelivered(&chat).await.unwrap().is_empty());

    // A turn's replies its handler never sent: swept after the grace period, not before.
    let replies = engine
        .handle(&chat, InboundContent::Start { payload: None }, None)
        .await
        .unwrap();
    assert!(!replies.is_empty());
    assert_eq!(
        channel.sent().len(),
        1,
        "within the grace period, left alone"
    );
    eventually("the left-over replies being swept", || {
        channel.sent().len() == 1 + replies.len()
    })
    .await;
    let swept: Vec<i64> = channel.sent()[1..].iter().map(|(_, id, _)| *id).collect();
    let expected: Vec<i64> = replies.iter().map(|r| r.id).collect();
    assert_eq!(swept, expected, "in order, each once");
    assert!(engine.undelivered(&chat).await.unwrap().is_empty());

    // Nothing is sent twice, and the web conversation is not the relay's.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(channel.sent().len(), 1 + replies.len());
    assert_eq!(engine.undelivered(&web).await.unwrap().len(), 1);

    token.cancel();
    tokio::time::timeout(Duration::from_secs(2), relay)
        .await
        .expect("the relay stops promptly")
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn the_relay_leaves_a_customer_who_blocked_the_bot_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine) = services(&dir).await;
    let channel = RecordingChannel::blocked();
    let token = CancellationToken::new();
    let relay = tokio::spawn(run_with(
        engine.clone(),
        store.clone(),
        vec![channel.clone() as Arc<dyn Deliver>],
        quick_timing(),
        token.clone(),
    ));
    let chat = engine
        .open(&ChannelIdentity::new(ChannelKind::Telegram, "blocked"))
        .await
        .unwrap();
    engine
        .push(&chat.id, vec![Reply::text("uno")], None)
        .await
        .unwrap();
    eventually("a first attempt", || {
        channel.attempts.load(Ordering::SeqCst) == 1
    })
    .await;
    // More pushes and many sweeps later (all older than the grace period): no retry.
    engine
        .push(&chat.id, vec![Reply::text("dos")], None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(channel.attempts.load(Ordering::SeqCst), 1);
    assert_eq!(
        engine.undelivered(&chat).await.unwrap().len(),
        2,
        "kept, not lost"
    );
    token.cancel();
    relay.await.unwrap();
    store.close().await;
}

// ---- The queries on both backends ------------------------------------------------

fn store_config() -> StoreConfig {
    StoreConfig {
        max_connections: 4,
        acquire_timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn link_and_relay_queries_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("q.db").display());
    let store = Store::connect(&url, &store_config()).await.unwrap();
    queries(&store).await;
    store.close().await;
}

#[tokio::test]
async fn link_and_relay_queries_postgres() {
    let db = PgDatabase::create().await;
    let store = Store::connect(&db.url, &store_config()).await.unwrap();
    queries(&store).await;
    store.close().await;
}

async fn queries(store: &Store) {
    let web = store
        .open_conversation(&ChannelIdentity::new(ChannelKind::Web, "w1"), 1_000)
        .await
        .unwrap();
    let chat = store
        .open_conversation(&ChannelIdentity::new(ChannelKind::Telegram, "t1"), 1_000)
        .await
        .unwrap();
    let token = NewLinkToken {
        token_hash: "hash-1",
        conversation_id: &web.id,
        customer_id: &web.customer_id,
        channel: ChannelKind::Telegram,
        created_at: 1_000,
        expires_at: 5_000,
    };
    store.save_link_token(&token).await.unwrap();
    assert_eq!(
        store
            .redeem_link_token("hash-1", ChannelKind::Viber, &chat.id, 2_000)
            .await
            .unwrap(),
        None,
        "for Telegram only"
    );
    assert_eq!(
        store
            .redeem_link_token("hash-1", ChannelKind::Telegram, &chat.id, 6_000)
            .await
            .unwrap(),
        None,
        "expired"
    );
    let redeemed = store
        .redeem_link_token("hash-1", ChannelKind::Telegram, &chat.id, 2_000)
        .await
        .unwrap()
        .expect("redeemed once");
    assert_eq!(redeemed.conversation_id, web.id);
    assert_eq!(redeemed.customer_id, web.customer_id);
    assert_eq!(
        store
            .redeem_link_token("hash-1", ChannelKind::Telegram, &chat.id, 2_100)
            .await
            .unwrap(),
        None,
        "once only"
    );
    assert_eq!(
        store.link_token_used_by("hash-1").await.unwrap(),
        Some(chat.id.clone())
    );
    assert_eq!(store.link_token_used_by("nope").await.unwrap(), None);

    let recipient = store.recipient(&chat.id).await.unwrap().unwrap();
    assert_eq!(recipient.external_id, "t1");
    assert_eq!(recipient.conversation.id, chat.id);
    assert_eq!(recipient.conversation.channel, ChannelKind::Telegram);

    // Undelivered replies: a turn reply and a push on Telegram, one on the web.
    let inbound = store
        .append_inbound(
            &chat.id,
            &InboundContent::Text {
                text: "hola".into(),
            },
            None,
            2_000,
        )
        .await
        .unwrap();
    let mut lock = store.lock_conversation(&chat.id).await.unwrap();
    store
        .commit_turn(
            &mut lock,
            showroom::store::TurnCommit {
                inbound_id: inbound.id,
                inbound_title: None,
                session_state: "{}",
                replies: &[Reply::text("respuesta")],
                now: 2_000,
            },
        )
        .await
        .unwrap();
    let pushed = store
        .commit_push(
            &mut lock,
            showroom::store::PushCommit {
                replies: &[Reply::text("recordatorio")],
                session_state: None,
                dedupe_key: None,
                now: 3_000,
            },
        )
        .await
        .unwrap();
    lock.release().await;
    let mut web_lock = store.lock_conversation(&web.id).await.unwrap();
    store
        .commit_push(
            &mut web_lock,
            showroom::store::PushCommit {
                replies: &[Reply::text("web")],
                session_state: None,
                dedupe_key: None,
                now: 1_500,
            },
        )
        .await
        .unwrap();
    web_lock.release().await;

    let kinds = [ChannelKind::Telegram, ChannelKind::Viber];
    let found = store
        .conversations_with_undelivered(&kinds, 2_500, None, 10)
        .await
        .unwrap();
    assert_eq!(
        found,
        std::slice::from_ref(&recipient),
        "web conversations are not listed"
    );
    assert!(
        store
            .conversations_with_undelivered(&kinds, 1_900, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing that old"
    );
    assert!(
        store
            .conversations_with_undelivered(&kinds, 2_500, Some(&chat.id), 10)
            .await
            .unwrap()
            .is_empty(),
        "paged past it"
    );
    // At 3_100 with a settle of 1_000 and a grace of 500: the push is still in hand,
    // the turn reply is not.
    let in_hand = store
        .undelivered_in_hand(&chat.id, 2_100, 2_600)
        .await
        .unwrap();
    assert_eq!(in_hand, [pushed.outbound[0].id]);
    let everything = store.undelivered(&chat.id).await.unwrap();
    store
        .mark_delivered(&everything.iter().map(|o| o.id).collect::<Vec<_>>(), 4_000)
        .await
        .unwrap();
    assert!(
        store
            .conversations_with_undelivered(&kinds, 10_000, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- The widget's HTTP endpoints on a real `showroom serve` ------------------------

/// Telegram on (its bot account named in the settings), its API unreachable, which
/// links do not need; Viber off.
fn telegram_site() -> Deployment {
    Deployment::new("[telegram]\nbot_username = \"AutosDelValleBot\"\n").with_env([
        (
            "TELEGRAM_BOT_TOKEN".to_owned(),
            "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw".to_owned(),
        ),
        (
            "TELEGRAM_API_URL".to_owned(),
            format!("http://127.0.0.1:{}", free_port()),
        ),
        ("VIBER_AUTH_TOKEN".to_owned(), String::new()),
    ])
}

#[tokio::test]
async fn the_widget_asks_which_apps_are_offered_and_gets_a_one_time_link() {
    let site = telegram_site();
    let server = site.serve().await;
    let client = reqwest::Client::new();
    let channels_url = format!("{}/api/v1/chat/channels", server.base);
    let offered = wait_for(|| async {
        let response = client.get(&channels_url).send().await.ok()?;
        let cors = response
            .headers()
            .get("access-control-allow-origin")
            .cloned();
        let body: Value = response.json().await.ok()?;
        (body["telegram"] == true).then_some((body, cors))
    })
    .await
    .expect("Telegram offered once the channel starts");
    assert_eq!(offered.0, json!({"telegram": true, "viber": false}));
    assert_eq!(offered.1.as_ref().and_then(|v| v.to_str().ok()), Some("*"));

    let chat = WebChat::open(&server.base).await;
    let session = chat.session.clone().unwrap();
    let link_url = format!("{}/api/v1/chat/link", server.base);
    let post = |body: Value| {
        let client = client.clone();
        let link_url = link_url.clone();
        async move {
            let response = client.post(&link_url).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    let (status, link) = post(json!({"session": session, "channel": "telegram"})).await;
    assert_eq!(status, 200, "{link}");
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "https://t.me/AutosDelValleBot?start={LINK_PREFIX}"
        )),
        "{url}"
    );
    let expires: jiff::Timestamp = link["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires > jiff::Timestamp::now(), "{link}");
    let (_, second) = post(json!({"session": session, "channel": "telegram"})).await;
    assert_ne!(second["url"], link["url"], "every link is new");

    let (status, err) = post(json!({"session": session, "channel": "viber"})).await;
    assert_eq!(status, 404, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("viber is not set up"),
        "{err}"
    );
    let stranger = SessionToken::generate();
    let (status, err) = post(json!({"session": stranger.as_str(), "channel": "telegram"})).await;
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["code"], "not_found", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("no chat with this session"),
        "{err}"
    );
    let (status, err) = post(json!({"session": session, "channel": "sms"})).await;
    assert_eq!(status, 400, "{err}");

    // The browser's preflight before a cross-origin POST.
    let preflight = client
        .request(reqwest::Method::OPTIONS, &link_url)
        .header("origin", "https://dealer.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = preflight
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(allowed.contains("content-type"), "{allowed}");
}

/// The widget in headless Chromium on a dealer's page (another origin): it offers
/// "Continue on Telegram" in the page's language, and a click opens the one-time link.
const WIDGET_LINK_CHECK: &str = r#"
import { chromium } from 'playwright-core';
const [base, shots] = process.argv.slice(-2);
// The dealer's page is served by the test itself (no address), which Chromium's
// local-network rules count as public: let it reach the loopback server anyway.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
  await context.route('http://localhost:9/dealer.html', (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><html lang="en"><body><h1>Dealer</h1>
      <script src="${base}/widget.js" data-lang="en" data-open="true"></script></body></html>`,
  }));
  await context.route('https://t.me/**', (route) => route.fulfill({ contentType: 'text/html', body: 'telegram' }));
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`console: ${m.text()}`); });
  await page.goto('http://localhost:9/dealer.html');
  const apps = page.getByRole('group', { name: 'Continue in another app' });
  const telegram = apps.getByRole('button', { name: 'Continue on Telegram' });
  await telegram.waitFor({ state: 'visible', timeout: 15000 });
  if (await apps.getByRole('button', { name: 'Continue on Viber' }).count()) throw new Error('Viber is off but offered');
  console.log('ok - Continue on Telegram is offered');
  await page.getByRole('log').getByRole('button').first().waitFor({ state: 'visible', timeout: 15000 });
  await page.screenshot({ path: `${shots}/widget-continue-on-telegram.png` });
  const [popup] = await Promise.all([page.waitForEvent('popup'), telegram.click()]);
  await popup.waitForURL(/^https:\/\/t\.me\//, { timeout: 15000 });
  console.log(`ok - the link opens ${popup.url()}`);
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
} finally {
  await browser.close();
}
"#;

#[tokio::test]
async fn the_widget_offers_continue_on_telegram_in_chromium() {
    let browser_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed; run `scripts/test` or `npm ci --prefix tests/browser`"
    );
    let site = telegram_site();
    let server = site.serve().await;
    let shots = crate::support::artifacts_dir();
    let output = tokio::process::Command::new("node")
        .current_dir(&browser_dir)
        .args(["--input-type=module", "-e", WIDGET_LINK_CHECK])
        .arg(&server.base)
        .arg(&shots)
        .output()
        .await
        .expect("node must be installed to run the browser check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "ok - the link opens https://t.me/AutosDelValleBot?start={LINK_PREFIX}"
        )),
        "{stdout}"
    );
}
