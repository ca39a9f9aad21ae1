//! What the Telegram adapter's unit tests promise, proved over the wire: the real
//! `showroom serve` against the fake Bot API and the fake LLM — an LLM answer that grows
//! by edits of one message and ends as the committed text with its sources; HTML
//! escaped and a long answer split at 4,096 characters; and a button whose payload is
//! too long for `callback_data`, sent by key and still working when pressed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use showroom::channels::telegram::render::{self, MAX_MESSAGE_UNITS};
use showroom::engine::{Language, Reply};

use crate::fake_llm::{FakeLlm, FakeReply};
use crate::fake_telegram::{Call, FakeTelegram, Sent, callback_update, text_update};
use crate::support::{Deployment, ServeProcess, wait_for};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The question the shipped Tiguan spec sheet answers (13 km/l on the highway).
const QUESTION: &str = "¿cuánto rinde la tiguan en carretera?";

/// Quick Telegram (edits at most every 200 ms) and an LLM that answers quickly or not
/// at all, on the shipped knowledge.
fn settings() -> String {
    format!(
        "knowledge_dir = {:?}\n\n\
         [telegram]\nmessages_per_second_per_chat = 5\nedit_interval = \"200ms\"\n\n\
         [assistant.llm]\nfirst_token_timeout = \"3s\"\ntimeout = \"15s\"\nmax_retries = 0\n",
        Path::new(REPO).join("knowledge")
    )
}

/// `showroom serve` talking to both fakes, once the shipped knowledge is indexed.
async fn serve_with_llm(telegram: &FakeTelegram, llm: &FakeLlm) -> (Deployment, ServeProcess) {
    let mut env = telegram.env();
    env.push(("OPENAI_BASE_URL".into(), llm.base_url.clone()));
    env.push(("OPENAI_API_KEY".into(), String::new()));
    let site = Deployment::new(&settings()).with_env(env);
    let server = site.serve().await;
    let indexed = wait_for(|| async {
        let status = server.admin_get("/admin/api/knowledge").await;
        let status = &status["status"];
        (status["ingested_at"].as_i64().is_some_and(|at| at > 0)
            && status["chunks"].as_u64().is_some_and(|n| n > 50))
        .then_some(())
    })
    .await;
    assert!(indexed.is_some(), "the shipped knowledge was not indexed");
    (site, server)
}

/// The calls of `method` to `chat`.
fn calls_to(fake: &FakeTelegram, method: &str, chat: i64) -> Vec<Call> {
    fake.calls(method)
        .into_iter()
        .filter(|c| c.params["chat_id"] == json!(chat))
        .collect()
}

/// The bot's committed replies in the (only) Telegram conversation, as stored.
async fn committed_replies(server: &ServeProcess) -> Vec<Reply> {
    let conversations = server.admin_get("/admin/api/conversations").await;
    let id = conversations["conversations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["channel"] == "telegram")
        .and_then(|c| c["id"].as_str())
        .unwrap_or_else(|| panic!("no Telegram conversation: {conversations:#}"))
        .to_owned();
    let detail = server
        .admin_get(&format!("/admin/api/conversations/{id}"))
        .await;
    detail["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["direction"] == "out")
        .map(|m| {
            serde_json::from_value::<Reply>(m.clone())
                .unwrap_or_else(|err| panic!("a stored reply ({err}): {m:#}"))
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_llm_answer_grows_by_edits_and_ends_as_the_committed_text() {
    let telegram = FakeTelegram::start().await;
    let llm = FakeLlm::start().await;
    let pieces = [
        "En carretera ",
        "a velocidad constante ",
        "el Tiguan puede pasar ",
        "de 13 km/l [1].",
    ];
    // Twice the edit interval between pieces: every piece after the first is an edit.
    llm.push(FakeReply::Text {
        pieces: pieces.iter().map(|p| p.to_string()).collect(),
        delay_between: Duration::from_millis(400),
    });
    let (_site, server) = serve_with_llm(&telegram, &llm).await;

    let chat = 5_560_001;
    telegram.push_update(text_update(chat, QUESTION, "es"));
    telegram.wait_for(chat, 0, |m| m.text.contains("📄")).await;

    let sends: Vec<Call> = calls_to(&telegram, "sendMessage", chat)
        .into_iter()
        .filter(|c| {
            c.params["text"]
                .as_str()
                .is_some_and(|t| t.contains("carretera"))
        })
        .collect();
    assert_eq!(
        sends.len(),
        1,
        "one new message for the answer, never a second one: {sends:#?}"
    );
    assert_eq!(sends[0].params["text"], "En carretera ", "the first piece");
    let message_id = telegram
        .sent_to(chat)
        .iter()
        .find(|m| m.text.contains("carretera"))
        .map(|m| m.message_id)
        .expect("the answer's message");

    let edits = calls_to(&telegram, "editMessageText", chat);
    assert!(
        edits.len() >= 2,
        "the answer grew by edits before its last one: {edits:#?}"
    );
    for edit in &edits {
        assert_eq!(edit.params["message_id"], json!(message_id), "{edit:#?}");
        assert_eq!(edit.params["parse_mode"], "HTML", "{edit:#?}");
    }
    let growing: Vec<&str> = edits
        .iter()
        .filter_map(|e| e.params["text"].as_str())
        .collect();
    assert!(
        growing[..growing.len() - 1]
            .iter()
            .any(|t| t.starts_with("En carretera a velocidad constante") && !t.contains("📄")),
        "an edit showed the answer so far, before the committed one: {growing:#?}"
    );

    let replies = committed_replies(&server).await;
    let answer = replies
        .iter()
        .find(|r| r.text.contains("13 km/l"))
        .unwrap_or_else(|| panic!("the committed answer: {replies:#?}"));
    assert_eq!(
        answer.text,
        "En carretera a velocidad constante el Tiguan puede pasar de 13 km/l."
    );
    assert!(
        answer.citations.iter().any(|c| c.title.contains("Tiguan")),
        "{answer:#?}"
    );
    let rendered = render::render(answer, &[], Language::Es);
    assert_eq!(rendered.len(), 1, "{rendered:#?}");
    assert_eq!(
        growing.last().copied(),
        Some(rendered[0].html.as_str()),
        "the last edit is the committed answer with its sources"
    );
    let shown: Vec<Sent> = telegram.sent_to(chat);
    let final_message = shown
        .iter()
        .find(|m| m.message_id == message_id)
        .expect("the answer's message");
    assert_eq!(final_message.html, rendered[0].html);
    assert_eq!(
        shown.iter().filter(|m| m.text.contains("13 km/l")).count(),
        1,
        "the answer is in the chat once: {shown:#?}"
    );
    drop(server);
}

/// A long answer without figures (nothing for the grounding check to refuse), in
/// paragraphs, a little over 5,000 characters.
fn long_answer() -> String {
    let paragraph = "El Tiguan es una camioneta cómoda para viajar en familia, \
                     con buen espacio atrás y un baúl amplio para las maletas del paseo. \
                     En carretera se siente firme y silenciosa, y en la ciudad es fácil de parquear.";
    let mut text = String::new();
    while text.chars().count() < 5_000 {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(paragraph);
    }
    text.push_str(" [1]");
    text
}

#[tokio::test]
async fn html_is_escaped_and_long_answers_are_split_over_the_wire() {
    let telegram = FakeTelegram::start().await;
    let llm = FakeLlm::start().await;
    let marked = "El Tiguan <Life> & <Elegance> puede pasar de 13 km/l en carretera [1].";
    llm.push(FakeReply::Text {
        pieces: vec![marked.into()],
        delay_between: Duration::ZERO,
    });
    let long = long_answer();
    llm.push(FakeReply::Text {
        pieces: long.split_inclusive(". ").map(str::to_owned).collect(),
        delay_between: Duration::ZERO,
    });
    let (_site, server) = serve_with_llm(&telegram, &llm).await;

    let chat = 5_560_002;
    telegram.push_update(text_update(chat, QUESTION, "es"));
    let shown = telegram.wait_for(chat, 0, |m| m.text.contains("📄")).await;
    let answer = shown
        .iter()
        .find(|m| m.text.contains("Elegance"))
        .unwrap_or_else(|| panic!("the answer: {shown:#?}"));
    assert_eq!(answer.parse_mode.as_deref(), Some("HTML"));
    assert!(
        answer
            .html
            .starts_with("El Tiguan &lt;Life&gt; &amp; &lt;Elegance&gt; puede pasar"),
        "{}",
        answer.html
    );
    assert!(
        answer
            .text
            .starts_with("El Tiguan <Life> & <Elegance> puede pasar de 13 km/l en carretera."),
        "{}",
        answer.text
    );
    let html_calls: Vec<Call> = calls_to(&telegram, "sendMessage", chat)
        .into_iter()
        .chain(calls_to(&telegram, "editMessageText", chat))
        .filter(|c| {
            c.params["text"]
                .as_str()
                .is_some_and(|t| t.contains("Life"))
        })
        .collect();
    for call in &html_calls {
        let text = call.params["text"].as_str().unwrap_or_default();
        assert_eq!(call.params["parse_mode"], "HTML", "{call:#?}");
        assert!(
            !text.contains("<Life>") && !text.contains(" & "),
            "sent unescaped: {text}"
        );
    }

    let seen = telegram.sent_to(chat).len();
    let sends_before = calls_to(&telegram, "sendMessage", chat).len();
    telegram.push_update(text_update(chat, QUESTION, "es"));
    let shown = telegram
        .wait_for(chat, seen, |m| m.text.contains("📄"))
        .await;
    let expected = long.trim_end_matches(" [1]");
    let parts: Vec<&Sent> = shown.iter().filter(|m| !m.text.is_empty()).collect();
    for part in &parts {
        assert!(
            part.text.encode_utf16().count() <= MAX_MESSAGE_UNITS,
            "a message of {} UTF-16 units",
            part.text.encode_utf16().count()
        );
        assert_eq!(part.parse_mode.as_deref(), Some("HTML"));
    }
    let sends = calls_to(&telegram, "sendMessage", chat).split_off(sends_before);
    assert!(sends.len() >= 2, "split over messages: {sends:#?}");
    let joined = parts
        .iter()
        .map(|m| m.text.trim_end())
        .collect::<Vec<_>>()
        .join("\n\n");
    let (body, sources) = joined
        .split_once("\n\n📄 ")
        .unwrap_or_else(|| panic!("no sources under the answer: {joined}"));
    assert_eq!(body, expected, "the parts joined are the whole answer once");
    assert!(sources.contains("Tiguan"), "{sources}");
    drop(server);
}

/// A copy of the shipped flows plus one whose button's value makes `answer:<value>`
/// longer than Telegram's 64 bytes of `callback_data`.
fn flows_with_a_long_button(dir: &Path, value: &str) -> PathBuf {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("flows folder");
    for entry in std::fs::read_dir(Path::new(REPO).join("flows")).expect("shipped flows") {
        let path = entry.expect("a shipped flow").path();
        if path.is_file() {
            std::fs::copy(&path, flows.join(path.file_name().expect("a file name")))
                .expect("copy a shipped flow");
        }
    }
    let flow = format!(
        r#"id: long_version
title:
  es: Versiones
  en: Versions
description: Asks for a version whose button value is longer than Telegram's callback data.
triggers:
  keywords:
    - versiones del tiguan
steps:
  - ask:
      es: ¿Qué versión te interesa?
      en: Which version are you interested in?
    buttons:
      - value: {value}
        es: Highline completa
        en: Full Highline
      - value: basic
        es: Básica
        en: Basic
    save: version
  - if: version == "{value}"
    say:
      es: Anotado, te interesa la Highline completa.
      en: Noted, you want the full Highline.
  - if: version != "{value}"
    say:
      es: Anotado, te interesa la versión básica.
      en: Noted, you want the basic version.
  - end: true
"#
    );
    std::fs::write(flows.join("long_version.yaml"), flow).expect("write the flow");
    flows
}

#[tokio::test]
async fn a_button_payload_over_64_bytes_goes_by_key_and_works_when_pressed() {
    let value = "highline_con_techo_panoramico_y_paquete_de_asistencia_a_la_conduccion";
    let folder = tempfile::tempdir().expect("temp dir");
    let flows = flows_with_a_long_button(folder.path(), value);
    let telegram = FakeTelegram::start().await;
    let mut env = telegram.env();
    env.push(("SHOWROOM_FLOWS_DIR".into(), flows.display().to_string()));
    let site = Deployment::new(
        "[telegram]\nmessages_per_second_per_chat = 5\nedit_interval = \"200ms\"\n",
    )
    .with_env(env);
    let server = site.serve().await;

    let chat = 5_560_003;
    telegram.push_update(text_update(chat, "versiones del tiguan", "es"));
    let asked = telegram
        .wait_for(chat, 0, |m| m.text.contains("¿Qué versión te interesa?"))
        .await;
    let question = asked
        .iter()
        .find(|m| !m.buttons.is_empty())
        .unwrap_or_else(|| panic!("the question with buttons: {asked:#?}"));
    let (_, long_data) = question
        .buttons
        .iter()
        .find(|(title, _)| title == "Highline completa")
        .unwrap_or_else(|| panic!("the long button: {question:#?}"))
        .clone();
    assert!(
        format!("answer:{value}").len() > 64,
        "the payload itself is over the limit"
    );
    assert!(long_data.len() <= 64, "{long_data}");
    assert!(long_data.starts_with('~'), "sent by key: {long_data}");
    for (title, data) in &question.buttons {
        assert!(data.len() <= 64, "{title}: {data}");
    }

    let seen = telegram.sent_to(chat).len();
    telegram.push_update(callback_update(chat, question.message_id, &long_data));
    let answered = telegram
        .wait_for(chat, seen, |m| m.text.contains("Anotado"))
        .await;
    assert!(
        answered
            .iter()
            .any(|m| m.text.contains("te interesa la Highline completa")),
        "the key was read back as the long value: {answered:#?}"
    );
    let spinner_stopped: Vec<Value> = telegram
        .calls("answerCallbackQuery")
        .into_iter()
        .map(|c| c.params)
        .collect();
    assert!(
        spinner_stopped.iter().any(|p| p["show_alert"] != true),
        "the press was answered without a stale-button alert: {spinner_stopped:#?}"
    );
    drop(server);
}
