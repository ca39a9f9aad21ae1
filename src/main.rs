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
