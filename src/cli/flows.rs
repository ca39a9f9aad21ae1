//! `showroom flows check|test|schema`: the offline commands staff run on their flow
//! files. Output is for people: what is wrong, where, and how to fix it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;

use super::plural;
use crate::config::Config;
use crate::engine::{ChannelKind, MenuRouter};
use crate::flows::testing::{ChannelRoundTrip, TestSetup, run_dir};
use crate::flows::{FlowSet, load_dir};

pub enum FlowsCommand {
    Check {
        dir: Option<PathBuf>,
    },
    Test {
        dir: Option<PathBuf>,
        /// Through this channel's adapter (Telegram or Viber); `None`: straight to the flows.
        channel: Option<ChannelKind>,
    },
    Schema,
}

pub async fn flows(config: &Config, command: FlowsCommand) -> anyhow::Result<()> {
    let (sources, vocabulary) =
        crate::server::flow_vocabulary(config, Arc::new(crate::booking::sources::NoBookings));
    match command {
        FlowsCommand::Schema => {
            println!("{}", serde_json::to_string_pretty(&crate::flows::schema())?);
            Ok(())
        }
        FlowsCommand::Check { dir } => {
            let dir = dir.unwrap_or_else(|| config.flows_dir.clone());
            let set = check(&dir, &vocabulary)?;
            let count = set.flows().count();
            println!(
                "{count} flow{} in {} — no problems found",
                plural(count),
                dir.display()
            );
            Ok(())
        }
        FlowsCommand::Test { dir, channel } => {
            let dir = dir.unwrap_or_else(|| config.flows_dir.clone());
            let set = Arc::new(check(&dir, &vocabulary)?);
            let setup = TestSetup {
                settings: crate::server::runner_settings(config),
                fallback: MenuRouter::new(&config.bot, config.menu.clone()),
                sources,
                vocabulary,
                default_language: config.bot.default_language,
                channel: channel.and_then(round_trip),
            };
            if let Some(channel) = &setup.channel {
                println!("through the {} adapter", channel.name());
            }
            let report = run_dir(&dir.join("tests"), set, &setup).await;
            for error in &report.errors {
                println!("{error}");
            }
            for outcome in &report.outcomes {
                let file = outcome
                    .file
                    .file_name()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default();
                match &outcome.failure {
                    None => println!("ok      {file}: {}", outcome.name),
                    Some(failure) => println!("FAILED  {file}: {}\n    {failure}", outcome.name),
                }
            }
            println!("{} passed, {} failed", report.passed(), report.failed());
            if report.failed() > 0 {
                bail!(
                    "{} flow test{} failed",
                    report.failed(),
                    plural(report.failed())
                );
            }
            Ok(())
        }
    }
}

/// The adapter round trip of a channel, for `flows test --channel`.
pub fn round_trip(channel: ChannelKind) -> Option<Arc<dyn ChannelRoundTrip>> {
    match channel {
        ChannelKind::Telegram => Some(Arc::new(
            crate::channels::telegram::round_trip::TelegramRoundTrip::new(),
        )),
        ChannelKind::Viber => Some(Arc::new(
            crate::channels::viber::round_trip::ViberRoundTrip::new(),
        )),
        ChannelKind::Web | ChannelKind::Cli => None,
    }
}

/// Loads and validates a folder; prints every problem and fails when there is any.
fn check(dir: &std::path::Path, vocabulary: &crate::flows::Vocabulary) -> anyhow::Result<FlowSet> {
    // `serve` treats a missing folder as "no flows yet"; asking to check one is a typo.
    if !dir.is_dir() {
        bail!(
            "there is no folder {}; give the folder that holds the flow files, like `showroom flows check flows`",
            dir.display()
        );
    }
    match load_dir(dir, vocabulary) {
        Ok(set) => Ok(set),
        Err(diagnostics) => {
            println!("{diagnostics}");
            bail!(
                "the flow files in {} have problems (listed above)",
                dir.display()
            )
        }
    }
}
