//! `showroom leads list|show|export`: the leads as staff read them (aligned columns,
//! phones masked in listings), one lead with everything behind it, and exports for
//! spreadsheets (CSV, customer fields flattened) or scripts (JSONL, full records).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use jiff::Zoned;
use serde::Serialize;

use super::{NONE, Table, local_time, open_store, plural};
use crate::admin::leads::{
    ConversationTranscript, LeadData, LeadDetail, LeadWithCustomer, lead_detail,
    leads_with_customers, parse_since, transcripts,
};
use crate::config::Config;
use crate::leads::{Band, Interest, Timeframe};
use crate::store::{Direction, LeadFilter, LeadRecord, LeadStatus, OutboxRecord};

/// Listings show this many leads unless `--limit` says otherwise.
const DEFAULT_LIST_LIMIT: i64 = 50;

/// The filters `list` and `export` share, as typed.
#[derive(Debug, Clone, Default)]
pub struct LeadListArgs {
    /// `open`, `handed_off`, `merged`, `erased`.
    pub status: Option<String>,
    /// `cold`, `warm`, `hot`.
    pub band: Option<String>,
    /// A date (`2026-12-01`), an age (`7d`) or an RFC 3339 moment.
    pub since: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

pub enum LeadsCommand {
    List {
        filter: LeadListArgs,
        json: bool,
    },
    Show {
        id: String,
        json: bool,
    },
    Export {
        format: ExportFormat,
        output: Option<PathBuf>,
        filter: LeadListArgs,
    },
}

pub async fn leads(config: &Config, command: LeadsCommand) -> anyhow::Result<()> {
    let now = Zoned::now().with_time_zone(config.flows.time_zone.clone());
    // Arguments are checked before the database is opened.
    let store = match &command {
        LeadsCommand::List { filter, .. } => {
            filter.to_filter(&now, Some(DEFAULT_LIST_LIMIT))?;
            open_store(config).await?
        }
        LeadsCommand::Export { filter, .. } => {
            filter.to_filter(&now, None)?;
            open_store(config).await?
        }
        LeadsCommand::Show { .. } => open_store(config).await?,
    };
    let result = run(config, &store, &now, command).await;
    store.close().await;
    result
}

async fn run(
    config: &Config,
    data: &dyn LeadData,
    now: &Zoned,
    command: LeadsCommand,
) -> anyhow::Result<()> {
    match command {
        LeadsCommand::List { filter, json } => {
            let rows =
                leads_with_customers(data, &filter.to_filter(now, Some(DEFAULT_LIST_LIMIT))?)
                    .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                if filter.is_empty() {
                    println!("no leads yet; leads appear as customers chat with the bot");
                } else {
                    println!("no leads match these filters");
                }
            } else {
                println!("{}", lead_table(config, &rows));
            }
            Ok(())
        }
        LeadsCommand::Show { id, json } => {
            let id = id.trim();
            let Some(detail) = lead_detail(data, id).await? else {
                anyhow::bail!(
                    "there is no lead {id:?}; `showroom leads list` shows the ids of recent leads"
                );
            };
            let conversations = transcripts(data, &detail.lead.customer_id).await?;
            if json {
                #[derive(Serialize)]
                struct LeadShow<'a> {
                    #[serde(flatten)]
                    detail: &'a LeadDetail,
                    conversations: &'a [ConversationTranscript],
                }
                let show = LeadShow {
                    detail: &detail,
                    conversations: &conversations,
                };
                println!("{}", serde_json::to_string_pretty(&show)?);
            } else {
                print!("{}", describe_lead(config, &detail, &conversations));
            }
            Ok(())
        }
        LeadsCommand::Export {
            format,
            output,
            filter,
        } => {
            let rows = leads_with_customers(data, &filter.to_filter(now, None)?).await?;
            let mut sink = open_output(output.as_ref())?;
            match format {
                ExportFormat::Csv => write_csv(&mut sink, &rows, &config.flows.time_zone)?,
                ExportFormat::Jsonl => {
                    for row in &rows {
                        serde_json::to_writer(&mut sink, row)?;
                        sink.write_all(b"\n")?;
                    }
                }
            }
            sink.flush().context("writing the export")?;
            let target = output
                .as_ref()
                .map_or("standard output".to_owned(), |p| p.display().to_string());
            eprintln!(
                "exported {} lead{} to {target}",
                rows.len(),
                plural(rows.len())
            );
            Ok(())
        }
    }
}

impl LeadListArgs {
    fn is_empty(&self) -> bool {
        self.status.is_none() && self.band.is_none() && self.since.is_none()
    }

    /// Checks the filters; `default_limit` applies when `--limit` is not given.
    fn to_filter(&self, now: &Zoned, default_limit: Option<i64>) -> anyhow::Result<LeadFilter> {
        let status = self
            .status
            .as_deref()
            .map(|v| {
                LeadStatus::parse(v).with_context(|| {
                    format!("--status {v:?} is not one of open, handed_off, merged, erased")
                })
            })
            .transpose()?;
        let band = self
            .band
            .as_deref()
            .map(|v| {
                Band::parse(v)
                    .with_context(|| format!("--band {v:?} is not one of cold, warm, hot"))
            })
            .transpose()?;
        let since = self
            .since
            .as_deref()
            .map(|v| parse_since(v, now).map_err(|err| anyhow::anyhow!("--since {err}")))
            .transpose()?;
        let limit = match self.limit {
            Some(n) if n < 1 => anyhow::bail!("--limit {n} must be 1 or more"),
            Some(n) => Some(n),
            None => default_limit,
        };
        Ok(LeadFilter {
            status,
            band,
            customer_id: None,
            since,
            limit,
        })
    }
}

/// `+573001234567` → `•••4567`: enough to tell leads apart on screen, not to call.
pub(crate) fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("•••{tail}")
}

fn model_name(config: &Config, id: &str) -> String {
    config
        .catalog
        .models
        .iter()
        .find(|m| m.id == id)
        .map_or_else(|| id.to_owned(), |m| m.name.clone())
}

fn lead_table(config: &Config, rows: &[LeadWithCustomer]) -> String {
    let tz = &config.flows.time_zone;
    let mut table = Table::new(&[
        "ID", "UPDATED", "STATUS", "SCORE", "CUSTOMER", "PHONE", "MODEL", "BRANCH", "ADVISOR",
    ]);
    for LeadWithCustomer { lead, customer } in rows {
        let profile = customer.as_ref().map(|c| &c.profile);
        table.row(vec![
            lead.id.clone(),
            local_time(lead.updated_at, tz),
            lead.status.as_str().to_owned(),
            format!("{} {}", lead.band.as_str(), lead.score),
            profile
                .and_then(|p| p.name.clone())
                .unwrap_or_else(|| NONE.into()),
            profile
                .and_then(|p| p.phone.as_ref())
                .map_or_else(|| NONE.into(), |p| mask_phone(p.as_str())),
            lead.interest
                .model
                .as_deref()
                .map_or_else(|| NONE.into(), |m| model_name(config, m)),
            lead.branch.clone().unwrap_or_else(|| NONE.into()),
            lead.advisor.clone().unwrap_or_else(|| NONE.into()),
        ]);
    }
    let shown = rows.len();
    format!(
        "{}\n\n{shown} lead{}, latest change first; `showroom leads show ID` for one in full",
        table.render(),
        plural(shown)
    )
}

// ---------------------------------------------------------------------------------------
// `leads show`
// ---------------------------------------------------------------------------------------

fn timeframe_words(timeframe: Timeframe) -> &'static str {
    match timeframe {
        Timeframe::Within30Days => "within 30 days",
        Timeframe::Within6Months => "in one to six months",
        Timeframe::Later => "later than six months",
    }
}

/// `85000000` → `$85.000.000` (Colombian grouping).
fn pesos(amount: u64) -> String {
    let digits = amount.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    format!("${out}")
}

/// `label   value` lines, labels padded to one width.
fn fields(out: &mut String, pairs: &[(&str, Option<String>)]) {
    let width = pairs
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    for (label, value) in pairs {
        if let Some(value) = value {
            let pad = width - label.chars().count();
            out.push_str(&format!("  {label}{}  {value}\n", " ".repeat(pad)));
        }
    }
}

fn interest_fields(config: &Config, interest: &Interest) -> Vec<(&'static str, Option<String>)> {
    vec![
        (
            "model",
            interest.model.as_deref().map(|m| model_name(config, m)),
        ),
        ("trim", interest.trim.clone()),
        (
            "budget",
            interest.budget_cop.map(|b| format!("{} COP", pesos(b))),
        ),
        (
            "buys",
            interest.timeframe.map(|t| timeframe_words(t).to_owned()),
        ),
        (
            "financing",
            interest
                .financing
                .map(|f| if f { "wants financing" } else { "pays cash" }.to_owned()),
        ),
        (
            "trade-in",
            interest.trade_in.as_ref().map(|t| {
                if t.is_empty() {
                    "yes (car not described)".to_owned()
                } else {
                    t.clone()
                }
            }),
        ),
        ("prefers branch", interest.branch.clone()),
    ]
}

fn lead_headline(lead: &LeadRecord, tz: &jiff::tz::TimeZone) -> String {
    let mut out = format!(
        "Lead {} — {}, {} {}\n",
        lead.id,
        lead.status.as_str(),
        lead.band.as_str(),
        lead.score
    );
    let mut lines = vec![(
        "started",
        Some(format!(
            "{} on {}",
            local_time(lead.created_at, tz),
            lead.channel
        )),
    )];
    lines.push(("updated", Some(local_time(lead.updated_at, tz))));
    lines.push((
        "handed off",
        lead.handed_off_at.map(|at| {
            let why = match lead.handoff_reason.as_deref() {
                Some("booking") => " (booked)",
                Some("advisor") => " (asked for an advisor)",
                Some("score") => " (score reached the threshold)",
                _ => "",
            };
            format!("{}{why}", local_time(at, tz))
        }),
    ));
    lines.push((
        "contact by",
        lead.contact_by
            .map(|at| format!("{} (as the customer was told)", local_time(at, tz))),
    ));
    lines.push(("merged into", lead.merged_into.clone()));
    lines.push(("branch", lead.branch.clone()));
    lines.push(("advisor", lead.advisor.clone()));
    fields(&mut out, &lines);
    out
}

fn outbox_line(message: &OutboxRecord, tz: &jiff::tz::TimeZone) -> String {
    let when = match message.delivered_at {
        Some(at) => format!("delivered {}", local_time(at, tz)),
        None => format!(
            "{}, next attempt {}",
            message.status.as_str(),
            local_time(message.next_attempt_at, tz)
        ),
    };
    let last = match (message.last_status, message.last_error.as_deref()) {
        (Some(status), Some(error)) => format!(" — last answer {status}: {error}"),
        (Some(status), None) => format!(" — last answer {status}"),
        (None, Some(error)) => format!(" — last error: {error}"),
        (None, None) => String::new(),
    };
    format!(
        "  #{} {} {} — {when}, {} attempt{}{last}\n",
        message.id,
        message.event,
        message.webhook_id,
        message.attempts,
        plural(usize::try_from(message.attempts).unwrap_or(0)),
    )
}

/// One lead in full, for a person reading a terminal.
fn describe_lead(
    config: &Config,
    detail: &LeadDetail,
    conversations: &[ConversationTranscript],
) -> String {
    let tz = &config.flows.time_zone;
    let lead = &detail.lead;
    let mut out = lead_headline(lead, tz);

    out.push_str(&format!("\nCustomer {}\n", lead.customer_id));
    match &detail.customer {
        None => out.push_str("  (the customer record is missing)\n"),
        Some(customer) => {
            let p = &customer.profile;
            fields(
                &mut out,
                &[
                    ("name", p.name.clone()),
                    (
                        "phone",
                        p.phone.as_ref().map(|phone| {
                            if p.phone_verified {
                                format!("{phone} (shared from the chat app)")
                            } else {
                                phone.to_string()
                            }
                        }),
                    ),
                    ("email", p.email.as_ref().map(|e| e.as_str().to_owned())),
                    (
                        "national id",
                        p.national_id.as_ref().map(|n| n.as_str().to_owned()),
                    ),
                    ("city", p.city.clone()),
                    ("language", customer.language.clone()),
                    (
                        "opted out",
                        customer.opted_out_at.map(|at| {
                            format!("{} (asked not to be contacted)", local_time(at, tz))
                        }),
                    ),
                    ("erased", customer.erased_at.map(|at| local_time(at, tz))),
                ],
            );
            if p.is_empty() && customer.erased_at.is_none() {
                out.push_str("  no personal data yet\n");
            }
        }
    }

    out.push_str("\nInterest\n");
    let interest = interest_fields(config, &lead.interest);
    if interest.iter().all(|(_, v)| v.is_none()) {
        out.push_str("  nothing said yet\n");
    }
    fields(&mut out, &interest);

    out.push_str(&format!(
        "\nScore {} ({})\n",
        lead.score,
        lead.band.as_str()
    ));
    if lead.reasons.is_empty() {
        out.push_str("  no signals yet\n");
    }
    for reason in &lead.reasons {
        out.push_str(&format!("  {:+4}  {}\n", reason.points, reason.text));
    }

    out.push_str("\nConsents\n");
    if detail.consents.is_empty() {
        out.push_str("  none recorded\n");
    }
    for consent in &detail.consents {
        let version = consent
            .version
            .as_deref()
            .map(|v| format!(", text version {v}"))
            .unwrap_or_default();
        let revoked = consent
            .revoked_at
            .map(|at| format!(", revoked {}", local_time(at, tz)))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {}: granted {} on {}{version}{revoked}\n    \"{}\"\n",
            consent.purpose,
            local_time(consent.granted_at, tz),
            consent.channel,
            consent.text
        ));
    }

    out.push_str("\nBookings\n");
    if detail.bookings.is_empty() {
        out.push_str("  none\n");
    }
    for booking in &detail.bookings {
        let start = local_time(booking.slot.start.as_millisecond(), tz);
        let end = booking
            .slot
            .end
            .to_zoned(tz.clone())
            .strftime("%H:%M")
            .to_string();
        let what = booking
            .model
            .as_deref()
            .map(|m| format!(", {}", model_name(config, m)))
            .or_else(|| booking.service_type.as_ref().map(|s| format!(", {s}")))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {}  {} {}, {start}–{end} at {} ({}){what}\n",
            booking.code,
            booking.kind.as_str().replace('_', " "),
            booking.status.as_str(),
            booking.slot.unit.branch,
            booking.slot.unit.resource,
        ));
    }

    out.push_str("\nCRM messages\n");
    if detail.outbox.is_empty() {
        out.push_str("  none yet (a lead is sent when it is handed off)\n");
    }
    for message in &detail.outbox {
        out.push_str(&outbox_line(message, tz));
    }

    for ConversationTranscript {
        conversation,
        messages,
    } in conversations
    {
        out.push_str(&format!(
            "\nConversation {} on {}, {} message{}\n",
            conversation.id,
            conversation.channel.as_str(),
            conversation.message_count,
            plural(usize::try_from(conversation.message_count).unwrap_or(0)),
        ));
        for message in messages {
            let who = match message.direction {
                Direction::In => "customer",
                Direction::Out => "bot     ",
            };
            let mut text = if message.text.is_empty() {
                // A start, a shared contact or a button without a title.
                format!("({})", message.kind)
            } else {
                message.text.clone()
            };
            if !message.buttons.is_empty() {
                let titles: Vec<String> = message
                    .buttons
                    .iter()
                    .map(|b| format!("[{}]", b.title))
                    .collect();
                text.push_str(&format!("\n{}", titles.join(" ")));
            }
            let mut lines = text.lines();
            out.push_str(&format!(
                "  {}  {who}  {}\n",
                local_time(message.created_at, tz),
                lines.next().unwrap_or("")
            ));
            for line in lines {
                out.push_str(&format!("  {:16}  {:8}  {line}\n", "", ""));
            }
        }
    }
    if conversations.is_empty() {
        out.push_str("\nNo conversations stored for this customer.\n");
    }
    out
}

// ---------------------------------------------------------------------------------------
// `leads export`
// ---------------------------------------------------------------------------------------

fn open_output(output: Option<&PathBuf>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// The CSV columns: the lead, then its customer's fields flattened.
const CSV_HEADER: &[&str] = &[
    "lead_id",
    "status",
    "score",
    "band",
    "signals",
    "customer_id",
    "name",
    "phone",
    "email",
    "national_id",
    "city",
    "opted_out_at",
    "model",
    "trim",
    "budget_cop",
    "timeframe",
    "financing",
    "trade_in",
    "preferred_branch",
    "branch",
    "advisor",
    "channel",
    "handoff_reason",
    "handed_off_at",
    "contact_by",
    "created_at",
    "updated_at",
];

/// A serde enum as the word it serializes to (`within_30_days`).
fn serde_word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(word)) => word,
        _ => String::new(),
    }
}

/// Times in CSV: RFC 3339 with the dealer's offset, which spreadsheets and people read.
fn csv_time(ms: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|at| {
            at.to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

fn csv_row(row: &LeadWithCustomer, tz: &jiff::tz::TimeZone) -> Vec<String> {
    let lead = &row.lead;
    let customer = row.customer.as_ref();
    let profile = customer.map(|c| &c.profile);
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    let interest = &lead.interest;
    vec![
        lead.id.clone(),
        lead.status.as_str().to_owned(),
        lead.score.to_string(),
        lead.band.as_str().to_owned(),
        lead.signals
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        lead.customer_id.clone(),
        text(profile.and_then(|p| p.name.as_deref())),
        text(profile.and_then(|p| p.phone.as_ref()).map(|p| p.as_str())),
        text(profile.and_then(|p| p.email.as_ref()).map(|e| e.as_str())),
        text(
            profile
                .and_then(|p| p.national_id.as_ref())
                .map(|n| n.as_str()),
        ),
        text(profile.and_then(|p| p.city.as_deref())),
        customer
            .and_then(|c| c.opted_out_at)
            .map(|at| csv_time(at, tz))
            .unwrap_or_default(),
        text(interest.model.as_deref()),
        text(interest.trim.as_deref()),
        interest
            .budget_cop
            .map(|b| b.to_string())
            .unwrap_or_default(),
        interest
            .timeframe
            .map(|t| serde_word(&t))
            .unwrap_or_default(),
        interest
            .financing
            .map(|f| if f { "yes" } else { "no" }.to_owned())
            .unwrap_or_default(),
        interest
            .trade_in
            .as_deref()
            .map(|t| if t.is_empty() { "yes" } else { t }.to_owned())
            .unwrap_or_default(),
        text(interest.branch.as_deref()),
        text(lead.branch.as_deref()),
        text(lead.advisor.as_deref()),
        lead.channel.clone(),
        text(lead.handoff_reason.as_deref()),
        lead.handed_off_at
            .map(|at| csv_time(at, tz))
            .unwrap_or_default(),
        lead.contact_by
            .map(|at| csv_time(at, tz))
            .unwrap_or_default(),
        csv_time(lead.created_at, tz),
        csv_time(lead.updated_at, tz),
    ]
}

fn write_csv(
    sink: &mut dyn Write,
    rows: &[LeadWithCustomer],
    tz: &jiff::tz::TimeZone,
) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(sink);
    writer.write_record(CSV_HEADER)?;
    for row in rows {
        writer.write_record(csv_row(row, tz))?;
    }
    writer.flush().context("writing the CSV export")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leads::{Email, PhoneE164, Profile, Reason, Signal};
    use crate::store::CustomerRecord;

    fn bogota() -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get("America/Bogota").unwrap()
    }

    fn sample() -> LeadWithCustomer {
        let lead = LeadRecord {
            id: "L1".into(),
            customer_id: "C1".into(),
            status: LeadStatus::HandedOff,
            interest: Interest {
                model: Some("duster".into()),
                budget_cop: Some(85_000_000),
                timeframe: Some(Timeframe::Within30Days),
                financing: Some(true),
                trade_in: Some(String::new()),
                ..Interest::default()
            },
            signals: [Signal::BookedTestDrive, Signal::AskedPrice]
                .into_iter()
                .collect(),
            score: 82,
            band: Band::Hot,
            reasons: vec![Reason {
                signal: Signal::BookedTestDrive,
                points: 40,
                text: Signal::BookedTestDrive.describe().into(),
            }],
            branch: Some("norte".into()),
            advisor: Some("ana".into()),
            channel: "web".into(),
            conversation_id: None,
            handed_off_at: Some(1_796_151_900_000),
            handoff_reason: Some("booking".into()),
            contact_by: None,
            merged_into: None,
            revision: 3,
            created_at: 1_796_151_900_000,
            updated_at: 1_796_151_900_000,
        };
        let customer = CustomerRecord {
            id: "C1".into(),
            profile: Profile {
                name: Some("Pérez, Juan \"JP\"".into()),
                phone: Some(PhoneE164::try_from("+573001234567".to_owned()).unwrap()),
                email: Email::parse("juan@example.com"),
                ..Profile::default()
            },
            language: Some("es".into()),
            opted_out_at: None,
            merged_into: None,
            erased_at: None,
            created_at: 0,
            updated_at: 0,
        };
        LeadWithCustomer {
            lead,
            customer: Some(customer),
        }
    }

    #[test]
    fn phones_are_masked_to_the_last_four_digits() {
        assert_eq!(mask_phone("+573001234567"), "•••4567");
        assert_eq!(mask_phone("+57"), "•••57");
    }

    #[test]
    fn csv_flattens_the_customer_and_quotes_what_needs_it() {
        let mut out = Vec::new();
        write_csv(&mut out, &[sample()], &bogota()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, CSV_HEADER);
        let record = reader.records().next().unwrap().unwrap();
        let get = |column: &str| {
            let i = CSV_HEADER.iter().position(|c| *c == column).unwrap();
            record.get(i).unwrap().to_owned()
        };
        assert_eq!(get("lead_id"), "L1");
        assert_eq!(get("status"), "handed_off");
        assert_eq!(get("band"), "hot");
        assert_eq!(get("signals"), "booked_test_drive asked_price");
        // The comma and quotes in the name survive the round trip.
        assert_eq!(get("name"), "Pérez, Juan \"JP\"");
        assert_eq!(get("phone"), "+573001234567");
        assert_eq!(get("email"), "juan@example.com");
        assert_eq!(get("national_id"), "");
        assert_eq!(get("timeframe"), "within_30_days");
        assert_eq!(get("financing"), "yes");
        assert_eq!(get("trade_in"), "yes");
        assert_eq!(get("budget_cop"), "85000000");
        assert_eq!(get("handed_off_at"), "2026-12-01T14:05:00-05:00");
        assert_eq!(record.len(), CSV_HEADER.len());
    }

    #[test]
    fn csv_leaves_customer_columns_empty_without_a_record() {
        let mut row = sample();
        row.customer = None;
        let cells = csv_row(&row, &bogota());
        assert_eq!(cells.len(), CSV_HEADER.len());
        assert_eq!(cells[6..12], ["", "", "", "", "", ""]);
    }

    #[test]
    fn list_arguments_become_a_filter() {
        let now: Zoned = "2026-12-10T12:00:00-05:00[America/Bogota]".parse().unwrap();
        let args = LeadListArgs {
            status: Some("open".into()),
            band: Some("warm".into()),
            since: Some("7d".into()),
            limit: None,
        };
        let filter = args.to_filter(&now, Some(50)).unwrap();
        assert_eq!(filter.status, Some(LeadStatus::Open));
        assert_eq!(filter.band, Some(Band::Warm));
        assert_eq!(
            filter.since,
            Some(now.timestamp().as_millisecond() - 7 * 24 * 3_600_000)
        );
        assert_eq!(filter.limit, Some(50));
        assert_eq!(
            LeadListArgs::default().to_filter(&now, None).unwrap().limit,
            None
        );

        let err = LeadListArgs {
            since: Some("last week".into()),
            ..LeadListArgs::default()
        }
        .to_filter(&now, None)
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--since \"last week\" is not a date"),
            "{err}"
        );
        let err = LeadListArgs {
            limit: Some(0),
            ..LeadListArgs::default()
        }
        .to_filter(&now, None)
        .unwrap_err();
        assert!(err.to_string().contains("--limit 0"), "{err}");
    }

    #[test]
    fn amounts_read_like_pesos() {
        assert_eq!(pesos(85_000_000), "$85.000.000");
        assert_eq!(pesos(999), "$999");
        assert_eq!(pesos(1_000), "$1.000");
    }
}
