//! Flow files end to end: the shipped flows pass `check` and their own conversation
//! tests; a broken folder is reported with every problem's line and column; `serve`
//! picks up edits while running and keeps the last good version on a broken edit.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use showroom::config::Config;
use showroom::engine::MenuRouter;
use showroom::flows::testing::{ChannelRoundTrip, TestSetup, run_dir};

use crate::support::{ADMIN_TOKEN, start_server};

fn showroom(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_showroom"))
        .args(args)
        .current_dir(cwd)
        .env_remove("DATABASE_URL")
        // The folders these tests write have no advisor flow to point at.
        .env("SHOWROOM_FLOWS__ADVISOR_FLOW", "")
        .output()
        .expect("run showroom");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn shipped_flows_pass_check_and_their_conversation_tests() {
    assert_shipped_flow_tests_pass(None).await;
}

/// Runs the conversation tests of the shipped `flows/` straight to the flows, or through
/// a channel's adapter, and fails listing every failed test.
pub async fn assert_shipped_flow_tests_pass(channel: Option<Arc<dyn ChannelRoundTrip>>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Config::defaults_with_data_dir("unused").unwrap();
    let (sources, vocabulary) = showroom::server::flow_vocabulary(
        &config,
        Arc::new(showroom::booking::sources::NoBookings),
    );
    let set = showroom::flows::load_dir(&root.join("flows"), &vocabulary)
        .unwrap_or_else(|problems| panic!("shipped flows have problems:\n{problems}"));
    assert!(
        set.flows().count() >= 4,
        "advisor, quote, privacy, contact at least"
    );
    let through = channel
        .as_ref()
        .map(|c| format!(" through {}", c.name()))
        .unwrap_or_default();
    let setup = TestSetup {
        settings: showroom::server::runner_settings(&config),
        fallback: MenuRouter::new(&config.bot, config.menu.clone()),
        sources,
        vocabulary,
        default_language: config.bot.default_language,
        channel,
    };
    let report = run_dir(&root.join("flows/tests"), Arc::new(set), &setup).await;
    let failures: Vec<String> = report
        .outcomes
        .iter()
        .filter_map(|o| {
            o.failure
                .as_ref()
                .map(|f| format!("{}: {}\n    {f}", o.file.display(), o.name))
        })
        .chain(report.errors.iter().cloned())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed{through}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        report.passed() >= 20,
        "only {} shipped flow tests{through}",
        report.passed()
    );
}

const BROKEN_A: &str = r#"id: advisor
title: { es: Asesor, en: Advisor }
steps:
  - ask: { es: "¿Cómo te llamas?", en: "Your name?" }
    input: nombre
    save: name
  - say: { es: "Hola {{ nombre }}", en: "Hi {{ name }}" }
  - goto: confirmar
  - end: true
  - say: { es: "nunca", en: "never" }
"#;

const BROKEN_B: &str = r#"id: advisor
title: { es: Otro }
steps:
  - action: enviar_crm
  - flow: cotizacion
"#;

const BROKEN_C: &str = "id: typo\ntitle: { es: A, en: B }\nsteps:\n  - sya: { es: hola, en: hi }\n";

#[test]
fn check_reports_every_problem_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(flows.join("a.yaml"), BROKEN_A).unwrap();
    std::fs::write(flows.join("b.yaml"), BROKEN_B).unwrap();
    std::fs::write(flows.join("c.yaml"), BROKEN_C).unwrap();
    let (ok, stdout, stderr) = showroom(&["flows", "check", "flows"], dir.path());
    assert!(!ok, "exit 1 on problems");
    let expect = [
        "flows/a.yaml:5:12: error: `input: nombre` is not an input type the bot knows",
        "flows/a.yaml:7:16: error: the message uses `nombre`, but no earlier step saves it",
        "flows/a.yaml:8:11: error: `goto: confirmar` points to a step that does not exist",
        "flows/a.yaml:10:5: error: this step can never run",
        "flows/b.yaml:1:5: error: the flow id `advisor` is already used by flows/a.yaml:1:5",
        "flows/b.yaml:2:14: error: the title has no English title (`en:`)",
        "flows/b.yaml:4:13: error: the action `enviar_crm` does not exist",
        "flows/b.yaml:5:11: error: `flow: cotizacion` points to a flow that does not exist",
        "flows/c.yaml:4:5: error: unknown key `sya`",
    ];
    for line in expect {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    assert!(stdout.contains("hint: did you mean `say`?"), "{stdout}");
    assert!(stdout.contains("hint: did you mean `name`?"), "{stdout}");
    assert!(stdout.contains("10 problems found"), "{stdout}");
    assert!(stderr.contains("have problems"), "{stderr}");
}

#[test]
fn test_command_prints_counts_and_a_readable_failure() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(flows.join("tests")).unwrap();
    std::fs::write(
        flows.join("hours.yaml"),
        "id: hours\ntitle: { es: Horarios, en: Hours }\ntriggers: { menu: 1, keywords: [horario] }\nsteps:\n  - say: { es: Abrimos a las 8, en: We open at 8 }\n  - end: true\n",
    )
    .unwrap();
    std::fs::write(
        flows.join("tests/hours.yaml"),
        "- name: good\n  turns:\n    - user: horario\n    - bot: Abrimos a las 8\n- name: bad\n  turns:\n    - user: horario\n    - bot: Abrimos a las 9\n",
    )
    .unwrap();
    let (ok, stdout, _) = showroom(&["flows", "test", "flows"], dir.path());
    assert!(!ok);
    assert!(stdout.contains("ok      hours.yaml: good"), "{stdout}");
    assert!(stdout.contains("FAILED  hours.yaml: bad"), "{stdout}");
    assert!(stdout.contains("tests/hours.yaml:8:7: expected the bot to say:\n      Abrimos a las 9\n    but it said:\n      Abrimos a las 8"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l == "1 passed, 1 failed"),
        "{stdout}"
    );
}

#[test]
fn schema_describes_flow_files() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, _) = showroom(&["flows", "schema"], dir.path());
    assert!(ok);
    let schema: Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(
        schema["$schema"]
            .as_str()
            .unwrap()
            .contains("json-schema.org")
    );
    assert!(schema["properties"]["steps"].is_object(), "{schema}");
    assert!(stdout.contains("\"say\"") && stdout.contains("\"buttons\""));
    let inputs = &schema["$defs"]["RawStep"]["properties"]["input"]["enum"];
    for kind in showroom::flows::input::InputKind::ALL {
        assert!(
            inputs.as_array().unwrap().contains(&json!(kind.as_str())),
            "{kind:?} missing from {inputs}"
        );
    }
    // The copy editors point at (`$schema=./schema.json`) must be the current one.
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/flows/schema.json");
    assert_eq!(
        std::fs::read_to_string(shipped).unwrap(),
        stdout,
        "flows/schema.json is stale: run `showroom flows schema > flows/schema.json`"
    );
}

const HOURS_V1: &str = "id: hours\ntitle: { es: Horarios, en: Hours }\ntriggers: { menu: 1 }\nsteps:\n  - say: { es: Abrimos a las 8, en: We open at 8 }\n  - end: true\n";
const HOURS_V2: &str = "id: hours\ntitle: { es: Horarios, en: Hours }\ntriggers: { menu: 1 }\nsteps:\n  - say: { es: Abrimos a las 9, en: We open at 9 }\n  - end: true\n";
const ASK_V1: &str = "id: plate\ntitle: { es: Placa, en: Plate }\ntriggers: { menu: 2 }\nsteps:\n  - id: ask_plate\n    ask: { es: ¿Tu placa?, en: Your plate? }\n    input: plate\n    save: plate\n  - say: { es: \"Placa {{ plate_display }}\", en: \"Plate {{ plate_display }}\" }\n";
const ASK_V2: &str = "id: plate\ntitle: { es: Placa, en: Plate }\ntriggers: { menu: 2 }\nsteps:\n  - say: { es: Ya no pedimos la placa, en: We no longer ask }\n";

async fn click(client: &reqwest::Client, url: &str, session: &str, payload: &str) -> Value {
    client
        .post(url)
        .json(&json!({"session": session, "button": payload}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn serve_reloads_edited_flows_and_keeps_the_last_good_version() {
    let flows = tempfile::tempdir().unwrap();
    std::fs::write(flows.path().join("hours.yaml"), HOURS_V1).unwrap();
    std::fs::write(flows.path().join("plate.yaml"), ASK_V1).unwrap();
    let flows_dir = flows.path().to_path_buf();
    let server = start_server(move |raw| {
        raw.flows_dir = flows_dir;
        // These flows have no advisor flow; without this `serve` refuses to start.
        raw.flows.advisor_flow = String::new();
    })
    .await;
    let client = reqwest::Client::new();
    let chat = server.url("/api/v1/chat/messages");
    let greeting: Value = client
        .post(&chat)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = greeting["session"].as_str().unwrap().to_owned();
    assert_eq!(
        greeting["replies"][0]["buttons"][0]["payload"],
        "flow:hours"
    );
    let first = click(&client, &chat, &session, "flow:hours").await;
    assert_eq!(first["replies"][0]["text"], "Abrimos a las 8");

    // A conversation waits at the plate question while the flows are edited.
    let asked = click(&client, &chat, &session, "flow:plate").await;
    assert_eq!(asked["replies"][0]["text"], "¿Tu placa?");

    // A good edit is live within moments, without a restart.
    std::fs::write(flows.path().join("hours.yaml"), HOURS_V2).unwrap();
    std::fs::write(flows.path().join("plate.yaml"), ASK_V2).unwrap();
    let mut reply = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let status: Value = client
            .get(server.url("/admin/api/flows"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text = status["flows"].to_string();
        if text.contains("\"steps\":1") && status["flows"].as_array().unwrap().len() == 2 {
            reply = status;
            break;
        }
    }
    assert!(!reply.is_null(), "the edit was not picked up within 10 s");
    // The question this customer was answering no longer exists: they are told so.
    let orphan: Value = client
        .post(&chat)
        .json(&json!({"session": session, "text": "ABC123"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        orphan["replies"][0]["text"]
            .as_str()
            .unwrap()
            .contains("ya no existe"),
        "{orphan}"
    );
    let second = click(&client, &chat, &session, "flow:hours").await;
    assert_eq!(second["replies"][0]["text"], "Abrimos a las 9");

    // A broken edit changes nothing for customers; operators see the problem.
    std::fs::write(
        flows.path().join("hours.yaml"),
        "id: hours\ntitle: { es: Horarios }\nsteps:\n  - sya: hola\n",
    )
    .unwrap();
    let mut problems = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let status: Value = client
            .get(server.url("/admin/api/flows"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["status"]["diagnostics"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
        {
            problems = status;
            break;
        }
    }
    let diagnostics = problems["status"]["diagnostics"].to_string();
    assert!(diagnostics.contains("unknown key `sya`"), "{problems}");
    assert!(diagnostics.contains("\"line\":4"), "{problems}");
    let still = click(&client, &chat, &session, "flow:hours").await;
    assert_eq!(
        still["replies"][0]["text"], "Abrimos a las 9",
        "the last good version stays live"
    );
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("showroom_flow_problems 1"), "{metrics}");

    // The manual reload endpoint reports the same problems.
    let reload = client
        .post(server.url("/admin/api/flows/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 422);
    server.stop().await;
}

#[test]
fn serve_refuses_to_start_with_broken_flows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/c.yaml"), BROKEN_C).unwrap();
    let (ok, _, stderr) = showroom(&["serve"], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains("flows/c.yaml:4:5: error: unknown key `sya`"),
        "{stderr}"
    );
}

#[test]
fn check_refuses_an_advisor_flow_that_does_not_exist() {
    let out = Command::new(env!("CARGO_BIN_EXE_showroom"))
        .args([
            "flows",
            "check",
            concat!(env!("CARGO_MANIFEST_DIR"), "/flows"),
        ])
        .env("SHOWROOM_FLOWS__ADVISOR_FLOW", "asesor")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("`[flows] advisor_flow = \"asesor\"` names a flow that does not exist"),
        "{stdout}"
    );
    assert!(
        stdout.contains("set advisor_flow to one of: advisor,"),
        "{stdout}"
    );

    let missing = Command::new(env!("CARGO_BIN_EXE_showroom"))
        .args(["flows", "check", "no-such-folder"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        !missing.status.success(),
        "a typo'd folder is not an empty one"
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no folder no-such-folder"));
}

#[test]
fn check_refuses_start_payloads_telegram_cannot_carry() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(
        flows.join("promo.yaml"),
        "id: promo\ntitle: { es: Promo, en: Promo }\ntriggers:\n  start: [prueba tiguan, lnk_promo, ok_promo-1]\nsteps:\n  - say: { es: hola, en: hi }\n",
    )
    .unwrap();
    let (ok, stdout, _) = showroom(&["flows", "check", "flows"], dir.path());
    assert!(!ok, "exit 1 on problems:\n{stdout}");
    assert!(
        stdout.contains("flows/promo.yaml:4:11: error: the start payload `prueba tiguan` can't be used in a Telegram link"),
        "{stdout}"
    );
    assert!(
        stdout.contains("hint: use 1 to 64 letters without accents"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the start payload `lnk_promo` begins with `lnk_`"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("ok_promo-1"),
        "a valid payload is fine:\n{stdout}"
    );
    assert!(stdout.contains("2 problems found"), "{stdout}");
}
