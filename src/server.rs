//! Wiring: open the store, build the engine, serve HTTP until the shutdown future
//! resolves, then let in-flight messages finish (within the configured grace period).
//! `run` takes its listener and shutdown signal as arguments so tests bind port 0 and
//! stop the server themselves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::assistant::intent::IntentRules;
use crate::assistant::llm::{ChatModel, LlmClient};
use crate::assistant::prompts::PromptRegistry;
use crate::assistant::{Assistant, Persona};
use crate::booking::actions::{BookingActions, booking_vocabulary};
use crate::booking::sources::{BookingLookup, BookingSources};
use crate::channels::linking::Linker;
use crate::channels::telegram::TelegramChannel;
use crate::channels::viber::ViberChannel;
use crate::channels::web::WebLimits;
use crate::config::Config;
use crate::crm::payload::{AdvisorContact, Directory, PayloadBuilder};
use crate::crm::worker::OutboxWorker;
use crate::engine::RouteError;
use crate::engine::{Engine, EngineSettings, MenuRouter};
use crate::flows::actions::{ActionSet, Actions, StoreActions, builtin_vocabulary};
use crate::flows::runner::Offers;
use crate::flows::sources::{CatalogSources, SourceSet, Sources};
use crate::flows::{Clock, FlowRegistry, FlowRouter, RunnerSettings, Vocabulary};
use crate::http::AppState;
use crate::knowledge::KnowledgeBase;
use crate::leads::desk::LeadDesk;
use crate::leads::extract::Extractor;
use crate::leads::routing::Routing;
use crate::leads::score::ScoreRules;
use crate::leads::understand::LlmReader;
use crate::store::{CustomerStore, Store};

/// Longest wait for the LLM to read a message for the lead.
const LLM_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// How often idle rate-limiter keys are forgotten.
const LIMITER_CLEANUP_EVERY: Duration = Duration::from_secs(60);

/// The long-lived parts `serve` and `chat` share.
pub struct Services {
    pub store: Store,
    pub engine: Arc<Engine>,
    pub flows: Arc<FlowRegistry>,
    /// Builds leads from every turn; `serve` connects it to the outbox worker.
    pub leads: Arc<LeadDesk>,
}

/// The leads desk from the settings.
pub fn lead_desk(config: &Config, store: &Store) -> Arc<LeadDesk> {
    let calendar = Arc::new(config.calendar.clone());
    let advisors = config
        .leads
        .advisors
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    Arc::new(LeadDesk::new(
        Arc::new(store.clone()),
        Extractor::new(&config.catalog, config.flows.phone_region),
        ScoreRules::new(&config.leads),
        Routing::new(&config.leads, &config.catalog, calendar),
        advisors,
        config.crm.settle,
        config.flows.time_zone.clone(),
    ))
}

/// The outbox worker of this instance, told by `leads` about every handoff it writes.
pub fn outbox_worker(config: &Config, store: &Store, leads: &LeadDesk) -> OutboxWorker {
    let mut directory = Directory::from_config(config);
    directory.advisors = config
        .leads
        .advisors
        .iter()
        .map(|a| {
            (
                a.id.clone(),
                AdvisorContact {
                    name: a.name.clone(),
                    email: a.email.as_ref().map(|e| e.as_str().to_owned()),
                    phone: a.phone.as_ref().map(|p| p.as_str().to_owned()),
                },
            )
        })
        .collect();
    let builder = PayloadBuilder::new(
        Arc::new(store.clone()),
        directory,
        config.crm.max_transcript_messages,
    );
    let (worker, notifier) = OutboxWorker::new(
        Arc::new(store.clone()),
        Arc::new(builder),
        config.crm.clone(),
    );
    leads.set_notifier(notifier);
    worker
}

/// The option lists flows may use, and everything `flows check` needs to know: actions,
/// lists and the values every template has. `bookings` answers the lists of free days
/// and times: the store when serving, `NoBookings` for `flows check` and `flows test`.
pub fn flow_vocabulary(
    config: &Config,
    bookings: Arc<dyn BookingLookup>,
) -> (Arc<dyn Sources>, Vocabulary) {
    let sources: Arc<dyn Sources> = Arc::new(SourceSet::new(vec![
        Arc::new(CatalogSources::new(config.catalog.clone())),
        Arc::new(BookingSources::new(
            Arc::new(config.calendar.clone()),
            config.catalog.models.clone(),
            bookings,
        )),
    ]));
    let mut actions = builtin_vocabulary();
    actions.extend(booking_vocabulary());
    let vocabulary = Vocabulary {
        actions,
        sources: sources.names(),
        globals: vec!["bot".into(), "lang".into()],
        advisor_flow: config.flows.advisor_flow.clone(),
    };
    (sources, vocabulary)
}

/// Outreach offers ("Agendar" on a post-sale message), read from the store.
struct StoreOffers(Store);

#[async_trait::async_trait]
impl Offers for StoreOffers {
    async fn offer(
        &self,
        id: &str,
    ) -> Result<Option<(String, serde_json::Map<String, serde_json::Value>)>, RouteError> {
        self.0
            .outreach_offer(id)
            .await
            .map_err(|err| RouteError(Box::new(err)))
    }
}

/// The settings the flow runner needs.
pub fn runner_settings(config: &Config) -> RunnerSettings {
    RunnerSettings {
        bot_name: config.bot.name.clone(),
        greeting: config.bot.greeting.clone(),
        fallback: config.bot.fallback.clone(),
        max_attempts: config.flows.max_attempts,
        advisor_flow: config.flows.advisor_flow.clone(),
        clock: Clock::System(config.flows.time_zone.clone()),
        phone_region: config.flows.phone_region,
        plate_country: config.flows.plate_country,
    }
}

/// The assistant: knowledge, prompts (checked now), the LLM when configured, and the
/// intent rules. Also returns the prompts' registry, for the hot reload.
pub fn assistant(
    config: &Config,
    knowledge: Arc<KnowledgeBase>,
) -> anyhow::Result<(Arc<Assistant>, Arc<PromptRegistry>)> {
    let prompts = PromptRegistry::load(&config.prompts_dir).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "the prompt files in {} have problems; fix them and start again:\n{}",
            config.prompts_dir.display(),
            list.join("\n")
        )
    })?;
    let prompts = Arc::new(prompts);
    let llm: Option<Arc<dyn ChatModel>> = match &config.assistant.llm {
        Some(llm) => Some(Arc::new(
            LlmClient::new(llm).context("setting up the LLM client")?,
        )),
        None => None,
    };
    let persona = Persona {
        bot_name: config.bot.name.clone(),
        dealer_name: config.bot.name.clone(),
        branches: config
            .catalog
            .branches
            .iter()
            .map(|b| format!("{} ({}, {})", b.name, b.address, b.city))
            .collect(),
    };
    let assistant = Assistant::new(
        knowledge,
        prompts.clone(),
        llm,
        IntentRules::from_config(config),
        config.assistant.clone(),
        persona,
    );
    Ok((Arc::new(assistant), prompts))
}

/// Opens the store, loads the flows and builds the engine (without the assistant:
/// free text no flow claims gets the fallback text and the menu).
pub async fn open(config: &Config) -> anyhow::Result<Services> {
    open_with(config, None).await
}

/// [`open`], with the assistant answering free text.
pub async fn open_with(
    config: &Config,
    assistant: Option<Arc<Assistant>>,
) -> anyhow::Result<Services> {
    // Install the recorder before anything counts, or early counts are lost.
    crate::telemetry::metrics();
    let store = Store::connect(&config.database_url, &config.store)
        .await
        .context("opening the database")?;
    let (sources, vocabulary) = flow_vocabulary(config, Arc::new(store.clone()));
    let flows = FlowRegistry::load(&config.flows_dir, vocabulary).map_err(|diagnostics| {
        anyhow::anyhow!(
            "the flow files in {} have problems; fix them (or run `showroom flows check`) and start again:\n{diagnostics}",
            config.flows_dir.display()
        )
    })?;
    let flows = Arc::new(flows);
    let actions: Arc<dyn Actions> = Arc::new(ActionSet::new(vec![
        Arc::new(StoreActions::new(
            Arc::new(store.clone()),
            Arc::new(store.clone()),
        )),
        Arc::new(BookingActions::new(
            Arc::new(config.calendar.clone()),
            config.catalog.models.clone(),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            config.public_url.clone(),
        )),
    ]));
    let router = FlowRouter::new(
        flows.clone(),
        MenuRouter::new(&config.bot, config.menu.clone()),
        actions,
        sources,
        runner_settings(config),
    )
    .with_offers(Arc::new(StoreOffers(store.clone())));
    let router = match assistant {
        Some(assistant) => router.with_assistant(assistant),
        None => router,
    };
    let leads = lead_desk(config, &store);
    let engine = Engine::new(
        Arc::new(store.clone()),
        Arc::new(router),
        EngineSettings {
            max_concurrent_turns: (config.store.max_connections as usize / 2).max(1),
            default_language: config.bot.default_language,
            idle_timeout: config.bot.idle_timeout,
            resume_prompt: config.bot.resume_prompt.clone(),
        },
    )
    .with_observer(leads.clone());
    Ok(Services {
        store,
        engine: Arc::new(engine),
        flows,
        leads,
    })
}

/// Opens the knowledge index (not ingesting yet: `run` does that in the background).
/// Only `serve` opens it: the embedded index belongs to one process, and `showroom chat`
/// must keep working beside a running server.
async fn open_knowledge(config: &Config) -> anyhow::Result<Option<Arc<KnowledgeBase>>> {
    if !config.knowledge_dir.is_dir() {
        tracing::warn!(
            dir = %config.knowledge_dir.display(),
            "no knowledge folder: answers from spec sheets are off until it exists (setting `knowledge_dir`)"
        );
        return Ok(None);
    }
    let base = KnowledgeBase::from_config(config)
        .await
        .context("opening the knowledge index")?;
    Ok(Some(Arc::new(base)))
}

/// Serves until `shutdown` resolves.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let knowledge = open_knowledge(&config).await?;
    let assistant = match &knowledge {
        Some(knowledge) => Some(assistant(&config, knowledge.clone())?),
        None => None,
    };
    let Services {
        store,
        engine,
        flows,
        leads,
    } = open_with(&config, assistant.as_ref().map(|(a, _)| a.clone())).await?;
    if let Some((assistant, _)) = &assistant {
        tracing::info!(
            llm = assistant.has_llm(),
            "assistant ready: {}",
            if assistant.has_llm() {
                "LLM answers, checked against the knowledge base"
            } else {
                "extractive answers from the knowledge base (no LLM configured)"
            }
        );
    }
    // Before recovering: handoffs of recovered turns go out at once.
    let worker = outbox_worker(&config, &store, &leads);
    let recovered = engine
        .recover()
        .await
        .context("processing messages left by the previous run")?;
    if recovered > 0 {
        tracing::info!(
            conversations = recovered,
            "processed messages left unprocessed by the previous run"
        );
    }

    let token = CancellationToken::new();
    let connections = TaskTracker::new();
    let linker = Arc::new(Linker::new(store.clone(), engine.clone()));
    let telegram = match &config.telegram {
        Some(settings) => Some(Arc::new(
            TelegramChannel::new(
                settings.clone(),
                engine.clone(),
                store.clone(),
                linker.clone(),
            )
            .context("setting up Telegram")?,
        )),
        None => None,
    };
    let viber = match &config.viber {
        Some(settings) => Some(Arc::new(
            ViberChannel::new(
                settings.clone(),
                engine.clone(),
                store.clone(),
                linker.clone(),
            )
            .context("setting up Viber")?,
        )),
        None => None,
    };
    let state = AppState {
        web_limits: Arc::new(WebLimits::new(&config.web)),
        config: Arc::new(config),
        engine,
        store: store.clone(),
        flows: flows.clone(),
        knowledge: knowledge.clone(),
        prompts: assistant.as_ref().map(|(_, prompts)| prompts.clone()),
        shutdown: token.clone(),
        connections: connections.clone(),
        telegram,
        viber,
        linker,
    };
    spawn_limiter_cleanup(&state);
    if let Some(llm) = &state.config.assistant.llm {
        // With an LLM, longer messages are also read by it for the lead (after the turn).
        let model: Arc<dyn ChatModel> =
            Arc::new(LlmClient::new(llm).context("setting up the LLM client for leads")?);
        let reader = LlmReader::new(model, &state.config.catalog, LLM_READ_TIMEOUT);
        leads.spawn_reader(reader, token.clone());
    }
    // CRM handoffs: delivers the outbox until shutdown, then finishes attempts under way.
    state.connections.spawn(worker.run(token.clone()));
    spawn_channels(&state);
    // Booking reminders: a polling worker that stops with the shutdown token.
    crate::booking::reminders::spawn(&state, crate::booking::reminders::system_clock());
    state
        .connections
        .spawn(crate::flows::reload::watch(flows, token.clone()));
    if let Some((_, prompts)) = assistant
        && state.config.assistant.watch_prompts
    {
        let dir = state.config.prompts_dir.clone();
        state.connections.spawn(crate::assistant::prompts::watch(
            prompts,
            dir,
            token.clone(),
        ));
    }
    if let Some(knowledge) = knowledge {
        if state.config.knowledge.watch {
            state
                .connections
                .spawn(crate::knowledge::watch::watch(knowledge, token.clone()));
        } else {
            state
                .connections
                .spawn(async move { crate::knowledge::watch::ingest_logged(&knowledge).await });
        }
    }
    let grace = state.config.http.shutdown_grace;
    let app = crate::http::router(state);

    let address = listener
        .local_addr()
        .context("reading the listening address")?;
    tracing::info!(%address, "showroom is listening on http://{address}");
    let signal = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing messages in flight");
        signal.cancel();
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(token.clone().cancelled_owned())
    .await
    .context("serving HTTP")?;

    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "some chat connections did not finish within the grace period"
        );
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Telegram and Viber: their update loops, and the relay that sends what their customers
/// have not received yet (pushed messages, replies a failed send left behind).
fn spawn_channels(state: &AppState) {
    let token = state.shutdown.clone();
    let mut deliver: Vec<Arc<dyn crate::channels::delivery::Deliver>> = Vec::new();
    if let Some(telegram) = &state.telegram {
        state.connections.spawn(telegram.clone().run(token.clone()));
        deliver.push(telegram.clone());
    }
    if let Some(viber) = &state.viber {
        state.connections.spawn(viber.clone().run(token.clone()));
        deliver.push(viber.clone());
    }
    if !deliver.is_empty() {
        state.connections.spawn(crate::channels::relay::run(
            state.engine.clone(),
            state.store.clone(),
            deliver,
            token,
        ));
    }
}

fn spawn_limiter_cleanup(state: &AppState) {
    let limits = state.web_limits.clone();
    let token = state.shutdown.clone();
    state.connections.spawn(async move {
        let mut every = tokio::time::interval(LIMITER_CLEANUP_EVERY);
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = every.tick() => limits.forget_idle(),
            }
        }
    });
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(cause = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(cause = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
