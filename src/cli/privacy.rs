//! `showroom privacy export|erase`: a customer's data on request (Ley 1581 habeas data,
//! GDPR). Export gives everything held on them as one JSON document; erase removes the
//! personal data, keeps anonymous counts, records the request in the audit log and
//! tells the CRM through the outbox (`privacy.erased`), in the store's one transaction.

use std::collections::BTreeSet;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use tokio::io::AsyncBufReadExt as _;

use super::{NONE, local_time, open_store, plural};
use crate::admin::leads::{
    ConversationTranscript, LeadData, customer_bookings, customer_leads, transcripts,
};
use crate::booking::Booking;
use crate::config::Config;
use crate::engine::ChannelKind;
use crate::flows::input::{InputContext, Lang};
use crate::leads::{Email, NationalId, PhoneE164};
use crate::store::{
    AuditEntry, ConsentRecord, CustomerKey, CustomerRecord, LeadRecord, NewOutboxMessage,
    OutboxFilter, OutboxRecord, now_ms,
};

/// How the operator names the customer, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerSelector {
    Phone(String),
    Email(String),
    NationalId(String),
    /// `web:ID`, `telegram:ID`, `viber:ID`.
    Channel(String),
    Customer(String),
}

pub enum PrivacyCommand {
    Export {
        selector: CustomerSelector,
        output: Option<PathBuf>,
    },
    Erase {
        selector: CustomerSelector,
        yes: bool,
    },
}

pub async fn privacy(config: &Config, command: PrivacyCommand) -> anyhow::Result<()> {
    let selector = match &command {
        PrivacyCommand::Export { selector, .. } | PrivacyCommand::Erase { selector, .. } => {
            selector.clone()
        }
    };
    // A mistyped phone or id is reported before the database is opened.
    let key = customer_key(&selector, config)?;
    let store = open_store(config).await?;
    let result = run(config, &store, &key, &selector, command).await;
    store.close().await;
    result
}

async fn run(
    config: &Config,
    data: &dyn LeadData,
    key: &CustomerKey,
    selector: &CustomerSelector,
    command: PrivacyCommand,
) -> anyhow::Result<()> {
    let ids = data.find_customers(key).await?;
    if ids.is_empty() {
        anyhow::bail!(
            "no customer matches {}; nothing was {}",
            describe(selector),
            match command {
                PrivacyCommand::Export { .. } => "exported",
                PrivacyCommand::Erase { .. } => "erased",
            }
        );
    }
    match command {
        PrivacyCommand::Export { output, .. } => export(data, &ids, selector, output).await,
        PrivacyCommand::Erase { yes, .. } => erase(config, data, &ids, selector, yes).await,
    }
}

/// Reads the selector into a store key, with the same normalization as the bot uses
/// (a phone typed without a country code is in `[flows] phone_region`).
fn customer_key(selector: &CustomerSelector, config: &Config) -> anyhow::Result<CustomerKey> {
    Ok(match selector {
        CustomerSelector::Phone(text) => {
            let ctx = InputContext {
                now: jiff::Zoned::now().with_time_zone(config.flows.time_zone.clone()),
                default_region: config.flows.phone_region,
                plate_country: config.flows.plate_country,
                language: Lang::Es,
            };
            CustomerKey::Phone(PhoneE164::parse(text, &ctx).with_context(|| {
                format!(
                    "--phone {text:?} is not a phone number; write it as the customer gave it, like +57 300 123 4567"
                )
            })?)
        }
        CustomerSelector::Email(text) => {
            CustomerKey::Email(Email::parse(text).with_context(|| {
                format!("--email {text:?} is not an email address, like ana@example.com")
            })?)
        }
        CustomerSelector::NationalId(text) => {
            CustomerKey::NationalId(NationalId::parse(text).with_context(|| {
                format!(
                    "--national-id {text:?} is not a valid cédula or NIT (a NIT needs its check digit: 900123456-8)"
                )
            })?)
        }
        CustomerSelector::Channel(text) => {
            let (channel, id) = text
                .split_once(':')
                .filter(|(_, id)| !id.trim().is_empty())
                .with_context(|| {
                    format!(
                        "--channel {text:?} must be CHANNEL:ID, like web:3f2a… or telegram:123456789"
                    )
                })?;
            let kind = ChannelKind::parse(channel.trim()).with_context(|| {
                format!("--channel {text:?}: {channel:?} is not one of web, telegram, viber, cli")
            })?;
            CustomerKey::Channel {
                channel: kind.as_str().to_owned(),
                external_id: id.trim().to_owned(),
            }
        }
        CustomerSelector::Customer(id) => CustomerKey::Id(id.trim().to_owned()),
    })
}

/// The selector as the operator gave it, for messages.
fn describe(selector: &CustomerSelector) -> String {
    match selector {
        CustomerSelector::Phone(v) => format!("--phone {v}"),
        CustomerSelector::Email(v) => format!("--email {v}"),
        CustomerSelector::NationalId(v) => format!("--national-id {v}"),
        CustomerSelector::Channel(v) => format!("--channel {v}"),
        CustomerSelector::Customer(v) => format!("--customer {v}"),
    }
}

/// Which kind of selector, for the audit log (which must not repeat the personal data).
fn selector_kind(selector: &CustomerSelector) -> &'static str {
    match selector {
        CustomerSelector::Phone(_) => "phone",
        CustomerSelector::Email(_) => "email",
        CustomerSelector::NationalId(_) => "national_id",
        CustomerSelector::Channel(_) => "channel",
        CustomerSelector::Customer(_) => "customer_id",
    }
}

// ---------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------

/// Everything held on one customer.
#[derive(Debug, Serialize)]
struct CustomerDossier {
    customer_id: String,
    customer: Option<CustomerRecord>,
    /// Their identities on the channels: `web:<session>`, `telegram:<chat id>`…
    channels: Vec<String>,
    /// What they agreed to, with the text shown: the evidence.
    consents: Vec<ConsentRecord>,
    leads: Vec<LeadRecord>,
    bookings: Vec<Booking>,
    conversations: Vec<ConversationTranscript>,
    /// The CRM messages about their leads, with the bodies sent.
    outbox: Vec<OutboxRecord>,
    /// Privacy requests and operator actions about them.
    audit: Vec<AuditEntry>,
}

#[derive(Debug, Serialize)]
struct ExportDocument {
    /// RFC 3339.
    exported_at: String,
    /// One entry per matching customer (the same phone can belong to several records
    /// before they are found to be one person).
    customers: Vec<CustomerDossier>,
}

async fn dossier(data: &dyn LeadData, id: &str) -> anyhow::Result<CustomerDossier> {
    let leads = data.leads(&customer_leads(id)).await?;
    // Everything sent about them: lead events and privacy notices.
    let outbox = data
        .list_outbox(&OutboxFilter {
            customer_id: Some(id.to_owned()),
            ..OutboxFilter::default()
        })
        .await?;
    let conversations = transcripts(data, id).await?;
    let channels: BTreeSet<String> = data
        .channel_identities(id)
        .await?
        .into_iter()
        .map(|(channel, external_id)| format!("{channel}:{external_id}"))
        .collect();
    Ok(CustomerDossier {
        customer_id: id.to_owned(),
        customer: data.customer_record(id).await?,
        channels: channels.into_iter().collect(),
        consents: data.consents(id).await?,
        leads,
        bookings: customer_bookings(data, id).await?,
        conversations,
        outbox,
        audit: data.entries_for(id).await?,
    })
}

async fn export(
    data: &dyn LeadData,
    ids: &[String],
    selector: &CustomerSelector,
    output: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut customers = Vec::with_capacity(ids.len());
    for id in ids {
        customers.push(dossier(data, id).await?);
    }
    let now = now_ms();
    let document = ExportDocument {
        exported_at: jiff::Timestamp::from_millisecond(now)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        customers,
    };
    let mut text = serde_json::to_string_pretty(&document)?;
    text.push('\n');
    match &output {
        Some(path) => write_private(path, &text)?,
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing the export")?,
    }
    for id in ids {
        data.record(&AuditEntry {
            at: now,
            actor: "operator:cli".into(),
            action: "privacy.exported".into(),
            subject: Some(id.clone()),
            detail: Some(serde_json::json!({ "selector": selector_kind(selector) })),
        })
        .await?;
    }
    let target = output
        .as_ref()
        .map_or("standard output".to_owned(), |p| p.display().to_string());
    eprintln!(
        "exported the data of {} customer{} to {target}",
        ids.len(),
        plural(ids.len())
    );
    Ok(())
}

/// Writes personal data readable by the owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

// ---------------------------------------------------------------------------------------
// Erase
// ---------------------------------------------------------------------------------------

/// What the operator sees before confirming.
async fn erase_preview(
    data: &dyn LeadData,
    config: &Config,
    id: &str,
) -> anyhow::Result<(String, bool)> {
    let tz = &config.flows.time_zone;
    let customer = data.customer_record(id).await?;
    if let Some(at) = customer.as_ref().and_then(|c| c.erased_at) {
        return Ok((
            format!(
                "customer {id}: erased already on {}; skipped",
                local_time(at, tz)
            ),
            false,
        ));
    }
    let profile = customer
        .as_ref()
        .map(|c| c.profile.clone())
        .unwrap_or_default();
    let leads = data.leads(&customer_leads(id)).await?;
    let bookings = customer_bookings(data, id).await?;
    let conversations = data.conversations_of(id).await?;
    let messages: i64 = conversations.iter().map(|c| c.message_count).sum();
    let messages = usize::try_from(messages).unwrap_or(0);
    let or_none = |v: Option<String>| v.unwrap_or_else(|| NONE.into());
    Ok((
        format!(
            "customer {id}: {}, phone {}, email {}, national id {}\n  {} lead{}, {} booking{}, {} conversation{} with {messages} message{}",
            or_none(profile.name.clone()),
            or_none(profile.phone.as_ref().map(|p| p.to_string())),
            or_none(profile.email.as_ref().map(|e| e.as_str().to_owned())),
            or_none(profile.national_id.as_ref().map(|n| n.as_str().to_owned())),
            leads.len(),
            plural(leads.len()),
            bookings.len(),
            plural(bookings.len()),
            conversations.len(),
            plural(conversations.len()),
            plural(messages),
        ),
        true,
    ))
}

async fn confirmed() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "erasing needs a confirmation and this is not a terminal; add --yes to erase without asking"
        );
    }
    print!("Erase this personal data? It cannot be undone. Type yes to go on: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    tokio::io::BufReader::new(tokio::io::stdin())
        .read_line(&mut answer)
        .await
        .context("reading the answer")?;
    Ok(is_yes(&answer))
}

fn is_yes(answer: &str) -> bool {
    matches!(
        answer.trim().to_lowercase().as_str(),
        "yes" | "y" | "sí" | "si" | "s"
    )
}

async fn erase(
    config: &Config,
    data: &dyn LeadData,
    ids: &[String],
    selector: &CustomerSelector,
    yes: bool,
) -> anyhow::Result<()> {
    let mut to_erase = Vec::new();
    println!("{} matches:", describe(selector));
    for id in ids {
        let (preview, erasable) = erase_preview(data, config, id).await?;
        println!("{preview}");
        if erasable {
            to_erase.push(id.clone());
        }
    }
    if to_erase.is_empty() {
        println!("nothing to erase");
        return Ok(());
    }
    if !yes && !confirmed().await? {
        println!("nothing was erased");
        return Ok(());
    }
    let crm_set = crate::admin::leads::crm_url(config).is_some();
    for id in &to_erase {
        let lead_ids: Vec<String> = data
            .leads(&customer_leads(id))
            .await?
            .into_iter()
            .map(|lead| lead.id)
            .collect();
        let now = now_ms();
        let notice = NewOutboxMessage {
            event: "privacy.erased".into(),
            lead_id: None,
            customer_id: Some(id.clone()),
            body: Some(crate::crm::payload::privacy_erased_body(id, &lead_ids, now)),
            dedupe_key: Some(format!("privacy.erased:{id}")),
            coalesce: false,
            not_before: now,
        };
        let erasure = data
            .erase_customer(id, now, &notice)
            .await
            .with_context(|| format!("erasing customer {id}; nothing of it was changed"))?;
        data.record(&AuditEntry {
            at: now,
            actor: "operator:cli".into(),
            action: "privacy.erased".into(),
            subject: Some(id.clone()),
            detail: Some(serde_json::json!({
                "selector": selector_kind(selector),
                "customers": erasure.customers,
                "leads": erasure.leads,
                "messages": erasure.messages,
                "bookings": erasure.bookings,
            })),
        })
        .await?;
        let records = erasure.customers.len();
        let leads = erasure.leads.len();
        let messages = usize::try_from(erasure.messages).unwrap_or(usize::MAX);
        let bookings = usize::try_from(erasure.bookings).unwrap_or(usize::MAX);
        println!(
            "erased customer {id}: {records} customer record{}, {leads} lead{}, {messages} message{}, {bookings} booking{}",
            plural(records),
            plural(leads),
            plural(messages),
            plural(bookings),
        );
    }
    if crm_set {
        println!(
            "the CRM will be notified (privacy.erased); `showroom outbox list` shows the notice"
        );
    } else {
        println!(
            "the CRM will be notified (privacy.erased) once CRM_WEBHOOK_URL is set; the notice waits in the outbox"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::defaults_with_data_dir("data").unwrap()
    }

    #[test]
    fn selectors_are_normalized_like_the_bot_does() {
        let config = config();
        assert_eq!(
            customer_key(&CustomerSelector::Phone("300 123 4567".into()), &config).unwrap(),
            CustomerKey::Phone(PhoneE164::try_from("+573001234567".to_owned()).unwrap())
        );
        assert_eq!(
            customer_key(&CustomerSelector::Email("Ana@Example.COM".into()), &config).unwrap(),
            CustomerKey::Email(Email::parse("ana@example.com").unwrap())
        );
        assert_eq!(
            customer_key(&CustomerSelector::Channel("telegram:12345".into()), &config).unwrap(),
            CustomerKey::Channel {
                channel: "telegram".into(),
                external_id: "12345".into()
            }
        );
        assert_eq!(
            customer_key(&CustomerSelector::Customer(" C1 ".into()), &config).unwrap(),
            CustomerKey::Id("C1".into())
        );
    }

    #[test]
    fn bad_selectors_say_what_is_expected() {
        let config = config();
        for (selector, needle) in [
            (CustomerSelector::Phone("12".into()), "--phone \"12\""),
            (CustomerSelector::Email("ana".into()), "--email \"ana\""),
            (
                CustomerSelector::NationalId("abc".into()),
                "--national-id \"abc\"",
            ),
            (CustomerSelector::Channel("12345".into()), "CHANNEL:ID"),
            (CustomerSelector::Channel("fax:12".into()), "\"fax\""),
            (CustomerSelector::Channel("web:".into()), "CHANNEL:ID"),
        ] {
            let err = customer_key(&selector, &config).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn confirmation_accepts_yes_in_both_languages() {
        for answer in ["yes\n", "Y", " sí ", "si"] {
            assert!(is_yes(answer), "{answer:?}");
        }
        for answer in ["", "no", "n", "yes please"] {
            assert!(!is_yes(answer), "{answer:?}");
        }
    }
}
