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
    },
    /// Print the JSON Schema of flow files, for editor autocompletion.
    Schema,
}

impl From<FlowsCommand> for showroom::cli::FlowsCommand {
    fn from(command: FlowsCommand) -> Self {
        match command {
            FlowsCommand::Check { dir } => Self::Check { dir },
            FlowsCommand::Test { dir } => Self::Test { dir },
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
