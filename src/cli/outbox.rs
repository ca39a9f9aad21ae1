//! `showroom outbox list|retry|replay`: what waits for the CRM, what was delivered and
//! what gave up, and how to send it again. Retrying also switches a CRM endpoint that
//! answered 410 Gone back on.

use jiff::Zoned;

use super::{NONE, Table, local_time, open_store, plural};
use crate::admin::leads::{
    EndpointState, LeadData, endpoint_state, parse_since, reenable_endpoint,
};
use crate::config::Config;
use crate::store::{
    AuditEntry, OutboxCounts, OutboxFilter, OutboxRecord, OutboxSelection, OutboxStatus, now_ms,
};

const DEFAULT_LIST_LIMIT: i64 = 50;
/// Last errors are cut to this many characters in the table (`--json` has them whole).
const ERROR_WIDTH: usize = 60;

pub enum OutboxCommand {
    List {
        /// `pending`, `delivered`, `dead`.
        status: Option<String>,
        lead: Option<String>,
        limit: Option<i64>,
        json: bool,
    },
    Retry {
        ids: Vec<i64>,
        all: bool,
    },
    Replay {
        ids: Vec<i64>,
        /// A date (`2026-12-01`), an age (`7d`) or an RFC 3339 moment.
        since: Option<String>,
    },
}

pub async fn outbox(config: &Config, command: OutboxCommand) -> anyhow::Result<()> {
    let now = Zoned::now().with_time_zone(config.flows.time_zone.clone());
    // Arguments are checked before the database is opened.
    let plan = Plan::from_command(command, &now)?;
    let store = open_store(config).await?;
    let result = run(config, &store, plan).await;
    store.close().await;
    result
}

/// A command with its arguments checked.
#[derive(Debug)]
enum Plan {
    List { filter: OutboxFilter, json: bool },
    Retry(OutboxSelection),
    Replay(OutboxSelection),
}

impl Plan {
    fn from_command(command: OutboxCommand, now: &Zoned) -> anyhow::Result<Self> {
        Ok(match command {
            OutboxCommand::List {
                status,
                lead,
                limit,
                json,
            } => {
                let status = status
                    .as_deref()
                    .map(|v| {
                        OutboxStatus::parse(v).ok_or_else(|| {
                            anyhow::anyhow!("--status {v:?} is not one of pending, delivered, dead")
                        })
                    })
                    .transpose()?;
                let limit = match limit {
                    Some(n) if n < 1 => anyhow::bail!("--limit {n} must be 1 or more"),
                    Some(n) => n,
                    None => DEFAULT_LIST_LIMIT,
                };
                Plan::List {
                    filter: OutboxFilter {
                        status,
                        lead_id: lead,
                        customer_id: None,
                        limit: Some(limit),
                    },
                    json,
                }
            }
            OutboxCommand::Retry { ids, all } => match (ids.is_empty(), all) {
                (true, false) => anyhow::bail!(
                    "say which messages to retry: their ids (`showroom outbox retry 12 15`, ids from `showroom outbox list --status dead`) or --all for every dead message"
                ),
                (false, true) => {
                    anyhow::bail!("give message ids or --all, not both")
                }
                (true, true) => Plan::Retry(OutboxSelection::All { since: None }),
                (false, false) => Plan::Retry(OutboxSelection::Ids(ids)),
            },
            OutboxCommand::Replay { ids, since } => match (ids.is_empty(), since) {
                (true, None) => anyhow::bail!(
                    "say which delivered messages to send again: their ids (`showroom outbox replay 12`) or --since DATE (2026-12-01, 7d)"
                ),
                (false, Some(_)) => {
                    anyhow::bail!("give message ids or --since, not both")
                }
                (true, Some(since)) => Plan::Replay(OutboxSelection::All {
                    since: Some(
                        parse_since(&since, now).map_err(|err| anyhow::anyhow!("--since {err}"))?,
                    ),
                }),
                (false, None) => Plan::Replay(OutboxSelection::Ids(ids)),
            },
        })
    }
}

async fn run(config: &Config, data: &dyn LeadData, plan: Plan) -> anyhow::Result<()> {
    let tz = &config.flows.time_zone;
    match plan {
        Plan::List { filter, json } => {
            let counts = data.outbox_counts().await?;
            let endpoint = endpoint_state(data, config).await?;
            let messages = data.list_outbox(&filter).await?;
            if json {
                let listing = serde_json::json!({
                    "counts": counts,
                    "endpoint": endpoint,
                    "messages": messages,
                    "limit": filter.limit,
                });
                println!("{}", serde_json::to_string_pretty(&listing)?);
                return Ok(());
            }
            println!("{}", status_line(&counts, &endpoint, tz));
            if messages.is_empty() {
                println!("\nno messages match");
            } else {
                println!("\n{}", outbox_table(&messages, tz));
            }
            Ok(())
        }
        Plan::Retry(selection) => {
            let now = now_ms();
            let mut skipped = Vec::new();
            if let OutboxSelection::Ids(ids) = &selection {
                for id in ids {
                    match data.outbox_message(*id).await? {
                        None => skipped.push(format!("{id}: there is no such message")),
                        Some(m) if m.status == OutboxStatus::Delivered => skipped.push(format!(
                            "{id}: delivered already; `showroom outbox replay {id}` sends it again"
                        )),
                        Some(_) => {}
                    }
                }
            }
            let retried = data.retry_outbox(&selection, now).await?;
            let reenabled = reenable_endpoint(data, config).await?;
            data.record(&audit(
                now,
                "outbox.retried",
                &selection,
                retried,
                reenabled.is_some(),
            ))
            .await?;
            for line in &skipped {
                println!("skipped {line}");
            }
            if let Some(disabled_at) = reenabled {
                println!(
                    "re-enabled the CRM endpoint (it had answered 410 Gone at {})",
                    local_time(disabled_at, tz)
                );
            }
            let n = usize::try_from(retried).unwrap_or(usize::MAX);
            match n {
                0 if matches!(selection, OutboxSelection::All { .. }) => {
                    println!("no dead messages to retry")
                }
                0 => println!("no message was put back in line"),
                _ => println!(
                    "{n} message{} back in line; a running `showroom serve` sends {} within seconds",
                    plural(n),
                    if n == 1 { "it" } else { "them" }
                ),
            }
            Ok(())
        }
        Plan::Replay(selection) => {
            let now = now_ms();
            let mut skipped = Vec::new();
            if let OutboxSelection::Ids(ids) = &selection {
                for id in ids {
                    match data.outbox_message(*id).await? {
                        None => skipped.push(format!("{id}: there is no such message")),
                        Some(m) if m.status != OutboxStatus::Delivered => skipped.push(format!(
                            "{id}: not delivered yet ({}); `showroom outbox retry {id}` sends it now",
                            m.status.as_str()
                        )),
                        Some(_) => {}
                    }
                }
            }
            let replayed = data.replay_outbox(&selection, now).await?;
            data.record(&audit(now, "outbox.replayed", &selection, replayed, false))
                .await?;
            for line in &skipped {
                println!("skipped {line}");
            }
            let n = usize::try_from(replayed).unwrap_or(usize::MAX);
            if n == 0 {
                println!("no delivered message matched; nothing will be sent again");
            } else {
                println!(
                    "{n} delivered message{} queued to be sent again with the same webhook-id (the CRM de-duplicates by it); a running `showroom serve` sends {} within seconds",
                    plural(n),
                    if n == 1 { "it" } else { "them" }
                );
            }
            Ok(())
        }
    }
}

/// Operator actions on the outbox go to the audit log (no personal data in it).
fn audit(
    now: i64,
    action: &str,
    selection: &OutboxSelection,
    count: u64,
    endpoint_reenabled: bool,
) -> AuditEntry {
    let which = match selection {
        OutboxSelection::Ids(ids) => serde_json::json!({ "ids": ids }),
        OutboxSelection::All { since } => serde_json::json!({ "all": true, "since": since }),
    };
    AuditEntry {
        at: now,
        actor: "operator:cli".into(),
        action: action.into(),
        subject: Some("outbox".into()),
        detail: Some(serde_json::json!({
            "which": which,
            "count": count,
            "endpoint_reenabled": endpoint_reenabled,
        })),
    }
}

/// `3 pending · 120 delivered · 2 dead — CRM endpoint https://crm.example/hooks: on`
fn status_line(counts: &OutboxCounts, endpoint: &EndpointState, tz: &jiff::tz::TimeZone) -> String {
    let endpoint = match (&endpoint.url, endpoint.disabled_at) {
        (None, _) => {
            "no CRM endpoint set (CRM_WEBHOOK_URL): handoffs wait in the outbox".to_owned()
        }
        (Some(url), None) => format!("CRM endpoint {url}: on"),
        (Some(url), Some(at)) => format!(
            "CRM endpoint {url}: DISABLED since {} (it answered 410 Gone); `showroom outbox retry --all` switches it back on",
            local_time(at, tz)
        ),
    };
    format!(
        "{} pending · {} delivered · {} dead — {endpoint}",
        counts.pending, counts.delivered, counts.dead
    )
}

fn last_result(message: &OutboxRecord) -> String {
    let error = message.last_error.as_deref().map(|e| {
        let mut cut: String = e.chars().take(ERROR_WIDTH).collect();
        if e.chars().count() > ERROR_WIDTH {
            cut.push('…');
        }
        cut
    });
    match (message.last_status, error) {
        (Some(status), Some(error)) => format!("{status} {error}"),
        (Some(status), None) => status.to_string(),
        (None, Some(error)) => error,
        (None, None) => NONE.into(),
    }
}

fn outbox_table(messages: &[OutboxRecord], tz: &jiff::tz::TimeZone) -> String {
    let mut table = Table::new(&[
        "ID",
        "WEBHOOK ID",
        "EVENT",
        "LEAD",
        "STATUS",
        "ATTEMPTS",
        "NEXT ATTEMPT",
        "LAST RESULT",
    ]);
    for m in messages {
        table.row(vec![
            m.id.to_string(),
            m.webhook_id.clone(),
            m.event.clone(),
            m.lead_id.clone().unwrap_or_else(|| NONE.into()),
            m.status.as_str().into(),
            m.attempts.to_string(),
            if m.status == OutboxStatus::Pending {
                local_time(m.next_attempt_at, tz)
            } else {
                NONE.into()
            },
            last_result(m),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Zoned {
        "2026-12-10T12:00:00-05:00[America/Bogota]".parse().unwrap()
    }

    fn plan(command: OutboxCommand) -> anyhow::Result<Plan> {
        Plan::from_command(command, &now())
    }

    /// What a retry or replay plan selects, and which of the two it is.
    fn selection(plan: Plan) -> (&'static str, OutboxSelection) {
        match plan {
            Plan::Retry(selection) => ("retry", selection),
            Plan::Replay(selection) => ("replay", selection),
            Plan::List { .. } => panic!("a listing"),
        }
    }

    #[test]
    fn retry_needs_ids_or_all() {
        let err = plan(OutboxCommand::Retry {
            ids: vec![],
            all: false,
        })
        .unwrap_err();
        assert!(err.to_string().contains("--all"), "{err}");
        assert_eq!(
            selection(
                plan(OutboxCommand::Retry {
                    ids: vec![3, 4],
                    all: false
                })
                .unwrap()
            ),
            ("retry", OutboxSelection::Ids(vec![3, 4]))
        );
        assert_eq!(
            selection(
                plan(OutboxCommand::Retry {
                    ids: vec![],
                    all: true
                })
                .unwrap()
            ),
            ("retry", OutboxSelection::All { since: None })
        );
    }

    #[test]
    fn replay_needs_ids_or_since() {
        assert!(
            plan(OutboxCommand::Replay {
                ids: vec![],
                since: None
            })
            .is_err()
        );
        assert_eq!(
            selection(
                plan(OutboxCommand::Replay {
                    ids: vec![],
                    since: Some("1d".into())
                })
                .unwrap()
            ),
            (
                "replay",
                OutboxSelection::All {
                    since: Some(now().timestamp().as_millisecond() - 24 * 3_600_000)
                }
            )
        );
        let err = plan(OutboxCommand::Replay {
            ids: vec![],
            since: Some("ayer".into()),
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("--since \"ayer\""), "{err}");
    }

    #[test]
    fn list_checks_status_and_limit() {
        let err = plan(OutboxCommand::List {
            status: Some("failed".into()),
            lead: None,
            limit: None,
            json: false,
        })
        .unwrap_err();
        assert!(err.to_string().contains("\"failed\""), "{err}");
        let Plan::List { filter, .. } = plan(OutboxCommand::List {
            status: Some("dead".into()),
            lead: Some("L1".into()),
            limit: None,
            json: false,
        })
        .unwrap() else {
            panic!("not a listing");
        };
        assert_eq!(filter.status, Some(OutboxStatus::Dead));
        assert_eq!(filter.lead_id.as_deref(), Some("L1"));
        assert_eq!(filter.limit, Some(DEFAULT_LIST_LIMIT));
    }

    #[test]
    fn status_line_says_when_the_endpoint_is_off() {
        let tz = now().time_zone().clone();
        let counts = OutboxCounts {
            pending: 3,
            delivered: 120,
            dead: 2,
        };
        let off = EndpointState {
            url: Some("https://crm.example/hooks".into()),
            disabled_at: Some(1_796_151_900_000),
        };
        let line = status_line(&counts, &off, &tz);
        assert!(
            line.starts_with("3 pending · 120 delivered · 2 dead"),
            "{line}"
        );
        assert!(line.contains("DISABLED since 2026-12-01 14:05"), "{line}");
        let unset = EndpointState {
            url: None,
            disabled_at: None,
        };
        assert!(status_line(&counts, &unset, &tz).contains("CRM_WEBHOOK_URL"));
    }
}
