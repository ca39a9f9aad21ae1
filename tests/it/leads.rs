//! Leads on a real `showroom serve` and its SQLite file: one person across web sessions
//! and the terminal chat is one customer with one lead, and `showroom leads
//! list|show|export` show what staff need.

use std::io::Write as _;
use std::process::Stdio;

use serde_json::Value;

use crate::support::{Deployment, WebChat};

/// The leads of a listing (`leads list --json` prints an array, the admin API
/// `{"leads": [...]}`).
fn rows(listing: &Value) -> &Vec<Value> {
    listing
        .as_array()
        .or(listing["leads"].as_array())
        .unwrap_or_else(|| panic!("no leads in {listing}"))
}

/// The leads that are not folded into another one nor erased.
fn active(listing: &Value) -> Vec<&Value> {
    rows(listing)
        .iter()
        .filter(|row| {
            let status = row["lead"]["status"].as_str().or(row["status"].as_str());
            matches!(status, Some("open" | "handed_off"))
        })
        .collect()
}

/// `row` is a lead as listed: `{"lead": {...}, "customer": {...}}` or the lead itself.
fn lead_of(row: &Value) -> &Value {
    if row["lead"].is_object() {
        &row["lead"]
    } else {
        row
    }
}

#[tokio::test]
async fn the_same_phone_on_two_channels_is_one_customer_and_one_lead() {
    let site = Deployment::new("");
    let server = site.serve().await;

    WebChat::open(&server.base)
        .await
        .ask_for_an_advisor("Juan Pérez", "300 123 4567")
        .await;
    WebChat::open(&server.base)
        .await
        .ask_for_an_advisor("Juan P.", "+57 300 123 4567")
        .await;

    // The terminal chat on the same database, as a third channel.
    let mut chat = site
        .command(&["chat", "--user", "juan"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start showroom chat");
    chat.stdin
        .take()
        .unwrap()
        .write_all("asesor\nautorizo\nJuan\n3001234567\nComprar un carro\n/salir\n".as_bytes())
        .unwrap();
    let out = chat.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Ya le pasé tu solicitud a un asesor"),
        "{stdout}"
    );

    let listed = site.cli_json(&["leads", "list", "--json"]);
    let leads = active(&listed);
    assert_eq!(leads.len(), 1, "one lead for one phone: {listed:#}");
    let lead = lead_of(leads[0]);
    let customer_id = lead["customer_id"].as_str().unwrap();
    assert_eq!(lead["status"], "handed_off", "{lead}");
    let admin = server.admin_get("/admin/api/leads").await;
    assert_eq!(active(&admin).len(), 1, "{admin:#}");

    let conversations = server.admin_get("/admin/api/conversations").await;
    let conversations = conversations["conversations"].as_array().unwrap();
    let mut channels: Vec<&str> = conversations
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    channels.sort();
    assert_eq!(channels, ["cli", "web", "web"], "{conversations:#?}");
    for conversation in conversations {
        assert_eq!(
            conversation["customer_id"], customer_id,
            "{conversations:#?}"
        );
    }

    let customer = &leads[0]["customer"];
    assert_eq!(customer["id"], customer_id, "{customer}");
    assert_eq!(customer["profile"]["phone"], "+573001234567", "{customer}");
    assert!(
        customer["profile"]["name"]
            .as_str()
            .is_some_and(|name| name.starts_with("Juan")),
        "{customer}"
    );
    // The other records of the same person point at the one that stays.
    for row in rows(&listed) {
        let lead = lead_of(row);
        if lead["status"] == "merged" {
            assert_eq!(lead["merged_into"], leads[0]["id"], "{listed:#}");
        }
    }
}

#[tokio::test]
async fn leads_list_show_export() {
    let site = Deployment::new("");
    let server = site.serve().await;
    WebChat::open(&server.base)
        .await
        .ask_for_an_advisor("Ana María Gómez", "315 987 6543")
        .await;
    drop(server);

    let listed = site.cli_json(&["leads", "list", "--json"]);
    let rows = rows(&listed);
    assert_eq!(rows.len(), 1, "{listed:#}");
    let lead = lead_of(&rows[0]);
    let id = lead["id"].as_str().unwrap();
    assert_eq!(lead["status"], "handed_off", "{lead}");
    assert_eq!(lead["handoff_reason"], "advisor", "{lead}");
    assert!(lead["advisor"].as_str().is_some(), "{lead}");
    let row = rows[0].to_string();
    assert!(row.contains("Ana María Gómez"), "{row}");
    assert!(
        row.contains("+573159876543"),
        "--json shows phones in full: {row}"
    );

    let table = site.cli(&["leads", "list"]);
    assert!(table.contains(id), "{table}");
    assert!(table.contains("handed_off"), "{table}");
    assert!(
        !table.contains("3159876543"),
        "the table masks phones: {table}"
    );

    let shown = site.cli(&["leads", "show", id]);
    for expected in [
        "Ana María Gómez",
        "+573159876543",
        "contact: granted",
        "Pidió hablar con un asesor",
        "lead.created",
    ] {
        assert!(shown.contains(expected), "`{expected}` not in:\n{shown}");
    }
    assert!(
        shown.contains("¿En qué te podemos ayudar?"),
        "the transcript: {shown}"
    );
    let shown = site.cli_json(&["leads", "show", id, "--json"]);
    assert!(shown.to_string().contains("requested_advisor"), "{shown:#}");

    let csv = site.cli(&["leads", "export", "--format", "csv"]);
    let mut lines = csv.lines();
    let header = lines.next().expect("a header line");
    assert!(
        header.contains("id") && header.contains("phone"),
        "{header}"
    );
    let records: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(records.len(), 1, "{csv}");
    assert!(records[0].contains(id), "{csv}");
    assert!(records[0].contains("Ana María Gómez"), "{csv}");
    assert!(records[0].contains("+573159876543"), "{csv}");

    let jsonl = site.cli(&["leads", "export", "--format", "jsonl"]);
    let objects: Vec<Value> = jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(objects.len(), 1, "{jsonl}");
    assert_eq!(lead_of(&objects[0])["id"], id, "{jsonl}");
    assert!(
        objects[0].to_string().contains("Ana María Gómez"),
        "{jsonl}"
    );
}
