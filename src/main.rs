//! The `showroom` command line. Thin on purpose: parse arguments, load settings, set up
//! logging, and hand over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use showroom::config::{Config, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "showroom",
    version,
    about = "Conversational runtime for car dealerships"
)]
struct Cli {
    /// Settings file (default: showroom.toml in the current folder, when present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the bot: web widget and HTTP API.
    Serve,
    /// Chat with the bot in this terminal (same engine and data as `serve`).
    Chat {
        /// Who you are in the conversation; each name keeps its own conversation.
        #[arg(long, default_value = "staff")]
        user: String,
    },
    /// Check, test and describe flow files.
    #[command(subcommand)]
    Flows(FlowsCommand),
    /// Index and search the knowledge folder (spec sheets, FAQ, policies).
    #[command(subcommand)]
    Kb(KbCommand),
    /// Ask the assistant one question; prints the answer and its sources. With --eval,
    /// measures how often answers contain the expected fact.
    Ask {
        /// The question, as a customer would write it.
        #[arg(required_unless_present = "eval")]
        question: Option<String>,
        /// A YAML file of questions with the fact each answer must contain (for example
        /// knowledge/eval.yaml).
        #[arg(long, value_name = "FILE", conflicts_with = "question")]
        eval: Option<PathBuf>,
        /// The conversation's language when the question's own is unclear: es or en.
        #[arg(long, default_value = "es")]
        lang: String,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List, show and export leads (customers, interest, score, handoff).
    #[command(subcommand)]
    Leads(LeadsCommand),
    /// Inspect and re-send the CRM handoffs waiting in, or sent from, the outbox.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Export or erase everything held on one customer (habeas data, GDPR).
    #[command(subcommand)]
    Privacy(PrivacyCommand),
}

/// Filters shared by `leads list` and `leads export`.
#[derive(Debug, clap::Args)]
struct LeadFilterArgs {
    /// Only leads in this state.
    #[arg(long, value_parser = ["open", "handed_off", "merged", "erased"])]
    status: Option<String>,
    /// Only leads in this band.
    #[arg(long, value_parser = ["cold", "warm", "hot"])]
    band: Option<String>,
    /// Only leads changed since then: a date (2026-12-01, from midnight in
    /// `[flows] time_zone`), an age (7d, 12h, 2w) or an RFC 3339 moment.
    #[arg(long, value_name = "DATE|AGE")]
    since: Option<String>,
    /// At most this many leads, latest change first (list: 50 by default; export: all).
    #[arg(long, value_name = "N")]
    limit: Option<i64>,
}

impl From<LeadFilterArgs> for showroom::cli::LeadListArgs {
    fn from(args: LeadFilterArgs) -> Self {
        Self {
            status: args.status,
            band: args.band,
            since: args.since,
            limit: args.limit,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// One row per lead, the customer's fields in columns (spreadsheets).
    Csv,
    /// One JSON object per line: the full lead with its customer record.
    Jsonl,
}

#[derive(Debug, Subcommand)]
enum LeadsCommand {
    /// Leads, latest change first: status, band and score, customer, masked phone,
    /// model, branch and advisor.
    List {
        #[command(flatten)]
        filter: LeadFilterArgs,
        /// Print the leads as JSON (phones in full).
        #[arg(long)]
        json: bool,
    },
    /// One lead in full: customer, consents, score reasons, bookings, CRM messages and
    /// the conversation transcripts.
    Show {
        /// The lead's id (from `showroom leads list`).
        id: String,
        /// Print the lead as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every matching lead, as CSV or JSON lines; prints the count on stderr.
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Write here instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        filter: LeadFilterArgs,
    },
}

impl From<LeadsCommand> for showroom::cli::LeadsCommand {
    fn from(command: LeadsCommand) -> Self {
        match command {
            LeadsCommand::List { filter, json } => Self::List {
                filter: filter.into(),
                json,
            },
            LeadsCommand::Show { id, json } => Self::Show { id, json },
            LeadsCommand::Export {
                format,
                output,
                filter,
            } => Self::Export {
                format: match format {
                    ExportFormat::Csv => showroom::cli::ExportFormat::Csv,
                    ExportFormat::Jsonl => showroom::cli::ExportFormat::Jsonl,
                },
                output,
                filter: filter.into(),
            },
        }
    }
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// Messages, newest first, after a line with the counts per status and whether the
    /// CRM endpoint is on.
    List {
        /// Only messages in this state.
        #[arg(long, value_parser = ["pending", "delivered", "dead"])]
        status: Option<String>,
        /// Only messages about this lead.
        #[arg(long, value_name = "ID")]
        lead: Option<String>,
        /// At most this many messages (default 50).
        #[arg(long, value_name = "N")]
        limit: Option<i64>,
        /// Print counts, endpoint and messages as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put dead (or waiting) messages back in line now, with their attempts reset; also
    /// switches the CRM endpoint back on if it had answered 410 Gone.
    Retry {
        /// Message ids (from `showroom outbox list`).
        #[arg(value_name = "ID")]
        ids: Vec<i64>,
        /// Every dead (or still waiting) message.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Send delivered messages again, with the same webhook-id and body. Receivers
    /// de-duplicate by webhook-id, so a CRM that already has a message ignores the copy;
    /// replay is for a CRM that lost data or a new receiver.
    Replay {
        /// Message ids (from `showroom outbox list --status delivered`).
        #[arg(value_name = "ID")]
        ids: Vec<i64>,
        /// Every message delivered since then: a date (2026-12-01), an age (7d, 12h, 2w)
        /// or an RFC 3339 moment.
        #[arg(long, value_name = "DATE|AGE", conflicts_with = "ids")]
        since: Option<String>,
    },
}

impl From<OutboxCommand> for showroom::cli::OutboxCommand {
    fn from(command: OutboxCommand) -> Self {
        match command {
            OutboxCommand::List {
                status,
                lead,
                limit,
                json,
            } => Self::List {
                status,
                lead,
                limit,
                json,
            },
            OutboxCommand::Retry { ids, all } => Self::Retry { ids, all },
            OutboxCommand::Replay { ids, since } => Self::Replay { ids, since },
        }
    }
}

/// Which customer: exactly one of these.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct CustomerArgs {
    /// Phone number, with or without country code (`[flows] phone_region` is assumed).
    #[arg(long)]
    phone: Option<String>,
    /// Email address.
    #[arg(long)]
    email: Option<String>,
    /// Cédula, or NIT with its check digit.
    #[arg(long, value_name = "ID")]
    national_id: Option<String>,
    /// A channel identity: web:ID, telegram:ID or viber:ID.
    #[arg(long, value_name = "CHANNEL:ID")]
    channel: Option<String>,
    /// A customer id (from `showroom leads show` or the admin API).
    #[arg(long, value_name = "ID")]
    customer: Option<String>,
}

impl CustomerArgs {
    fn selector(self) -> anyhow::Result<showroom::cli::CustomerSelector> {
        use showroom::cli::CustomerSelector as S;
        let Self {
            phone,
            email,
            national_id,
            channel,
            customer,
        } = self;
        phone
            .map(S::Phone)
            .or(email.map(S::Email))
            .or(national_id.map(S::NationalId))
            .or(channel.map(S::Channel))
            .or(customer.map(S::Customer))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "say which customer: --phone, --email, --national-id, --channel or --customer"
                )
            })
    }
}

#[derive(Debug, Subcommand)]
enum PrivacyCommand {
    /// Everything held on the customer as one JSON document: record, consents, leads,
    /// bookings, conversations with transcripts, CRM messages and audit entries.
    Export {
        #[command(flatten)]
        customer: CustomerArgs,
        /// Write here (readable by you only) instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Remove the customer's personal data, keep anonymous counts, record the request
    /// and notify the CRM (privacy.erased). Asks for confirmation.
    Erase {
        #[command(flatten)]
        customer: CustomerArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KbCommand {
    /// Index the knowledge folder: changed files only; prints one line per file.
    Ingest {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The passages that best answer QUERY, with scores and sources.
    Search {
        query: String,
        /// How many passages.
        #[arg(long, short = 'k', default_value_t = 5)]
        k: usize,
        /// Print results as JSON.
        #[arg(long)]
        json: bool,
        /// Use only word matching, even when embeddings are configured.
        #[arg(long)]
        sparse_only: bool,
    },
    /// Recall@1/3/5 and MRR of a YAML file of questions with their expected source.
    Eval {
        /// For example knowledge/eval.yaml.
        file: PathBuf,
        /// Print the report (with every question's rank) as JSON.
        #[arg(long)]
        json: bool,
        /// Use only word matching, even when embeddings are configured.
        #[arg(long)]
        sparse_only: bool,
    },
}

impl From<KbCommand> for showroom::cli::KbCommand {
    fn from(command: KbCommand) -> Self {
        match command {
            KbCommand::Ingest { json } => Self::Ingest { json },
            KbCommand::Search {
                query,
                k,
                json,
                sparse_only,
            } => Self::Search {
                query,
                k,
                json,
                sparse_only,
            },
            KbCommand::Eval {
                file,
                json,
                sparse_only,
            } => Self::Eval {
                file,
                json,
                sparse_only,
            },
        }
    }
}

#[derive(Debug, Subcommand)]
enum FlowsCommand {
    /// Check every flow file; prints `file:line:col: error: …` and exits 1 on any problem.
    Check {
        /// The flows folder (default: `flows_dir` from settings).
        dir: Option<PathBuf>,
    },
    /// Run the conversation tests in `<DIR>/tests/`; prints `N passed, N failed`.
    Test {
        /// The flows folder (default: `flows_dir` from settings).
        dir: Option<PathBuf>,
        /// Run every message through a channel's adapter, as customers there see and
        /// send it: `telegram` or `viber` (default: straight to the flows).
        #[arg(long, value_enum)]
        channel: Option<TestChannel>,
    },
    /// Print the JSON Schema of flow files, for editor autocompletion.
    Schema,
}

/// Channels whose adapters `flows test --channel` can run through.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TestChannel {
    Telegram,
    Viber,
}

impl From<FlowsCommand> for showroom::cli::FlowsCommand {
    fn from(command: FlowsCommand) -> Self {
        match command {
            FlowsCommand::Check { dir } => Self::Check { dir },
            FlowsCommand::Test { dir, channel } => Self::Test {
                dir,
                channel: channel.map(|c| match c {
                    TestChannel::Telegram => showroom::engine::ChannelKind::Telegram,
                    TestChannel::Viber => showroom::engine::ChannelKind::Viber,
                }),
            },
            FlowsCommand::Schema => Self::Schema,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole cause chain on one line.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            showroom::telemetry::init_logging(&config.log);
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| {
                    format!(
                        "cannot listen on {} (setting `listen` / SHOWROOM_LISTEN)",
                        config.listen
                    )
                })?;
            showroom::server::run(config, listener, showroom::server::shutdown_signal()).await
        }
        Command::Flows(command) => showroom::cli::flows(&config, command.into()).await,
        Command::Kb(command) => {
            // Only problems are logged: the command prints its own report.
            config.log.level = "warn".into();
            config.log.format = LogFormat::Human;
            showroom::telemetry::init_logging(&config.log);
            showroom::cli::kb(&config, command.into()).await
        }
        Command::Ask {
            question,
            eval,
            lang,
            json,
        } => {
            config.log.level = "warn".into();
            config.log.format = LogFormat::Human;
            showroom::telemetry::init_logging(&config.log);
            let language = showroom::engine::Language::parse(&lang).ok_or_else(|| {
                anyhow::anyhow!("--lang {lang:?} is not a language the bot speaks; use es or en")
            })?;
            let command = match (question, eval) {
                (_, Some(file)) => showroom::cli::AskCommand::Eval { file, json },
                (Some(question), None) => showroom::cli::AskCommand::Question {
                    question,
                    language,
                    json,
                },
                (None, None) => anyhow::bail!("give a question, or --eval FILE"),
            };
            showroom::cli::ask(&config, command).await
        }
        Command::Leads(command) => {
            quiet_logging(&mut config);
            showroom::cli::leads(&config, command.into()).await
        }
        Command::Outbox(command) => {
            quiet_logging(&mut config);
            showroom::cli::outbox(&config, command.into()).await
        }
        Command::Privacy(command) => {
            quiet_logging(&mut config);
            let command = match command {
                PrivacyCommand::Export { customer, output } => {
                    showroom::cli::PrivacyCommand::Export {
                        selector: customer.selector()?,
                        output,
                    }
                }
                PrivacyCommand::Erase { customer, yes } => showroom::cli::PrivacyCommand::Erase {
                    selector: customer.selector()?,
                    yes,
                },
            };
            showroom::cli::privacy(&config, command).await
        }
        Command::Chat { user } => {
            // Keep the terminal for the conversation: only warnings and errors are logged.
            config.log.level = "warn".into();
            config.log.format = LogFormat::Human;
            showroom::telemetry::init_logging(&config.log);
            let services = showroom::server::open(&config).await?;
            let stdin = tokio::io::BufReader::new(tokio::io::stdin());
            let result = showroom::channels::cli::run(
                &services.engine,
                &user,
                stdin,
                &mut std::io::stdout(),
            )
            .await;
            services.store.close().await;
            Ok(result?)
        }
    }
}

/// Commands that print their own report log only warnings and errors.
fn quiet_logging(config: &mut Config) {
    config.log.level = "warn".into();
    config.log.format = LogFormat::Human;
    showroom::telemetry::init_logging(&config.log);
}
