//! The assistant end to end, on a real server with the shipped flows and knowledge:
//! extractive answers with sources on embedded defaults, the honest "no tengo ese dato",
//! intent that lands in the test-drive flow pre-filled, and the LLM path against the
//! fake OpenAI-compatible server — streaming frame by frame, 429 then success, a timeout
//! falling back to the extractive answer, an invented figure caught, tool calls, and a
//! corpus of prompt injections against a model that obeys them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_tungstenite::connect_async;

use crate::fake_llm::{FakeLlm, FakeReply};
use crate::support::{Socket, TestServer, knowledge_status, next_frame, send, spawn_server};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A server with the shipped flows and knowledge, once the knowledge is indexed.
async fn server(data: &Path, tweak: impl FnOnce(&mut showroom::config::RawSettings)) -> TestServer {
    let server = spawn_server(data, None, None, |raw| {
        raw.flows_dir = repo("flows");
        raw.knowledge_dir = repo("knowledge");
        tweak(raw);
    })
    .await;
    // The first ingest at start has finished.
    let ready = knowledge_status(&server, |status| {
        status["ingested_at"].as_i64().is_some_and(|at| at > 0)
            && status["chunks"].as_u64().is_some_and(|n| n > 50)
    })
    .await;
    assert!(ready.is_some(), "the shipped knowledge was not indexed");
    server
}

/// Opens the widget socket and reads the session and greeting frames.
async fn open_widget(server: &TestServer) -> Socket {
    let (mut socket, _) = connect_async(server.ws_url("")).await.expect("connect");
    assert_eq!(next_frame(&mut socket).await["type"], "session");
    assert_eq!(next_frame(&mut socket).await["type"], "message");
    socket
}

/// Sends a question and collects frames up to the answer (a `message` or the
/// `message_end` of a stream), returning every frame seen.
async fn ask(socket: &mut Socket, text: &str) -> Vec<Value> {
    send(socket, json!({"type": "message", "text": text})).await;
    let mut frames = Vec::new();
    loop {
        let frame = next_frame(socket).await;
        let done = frame["type"] == "message" || frame["type"] == "message_end";
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

fn answer(frames: &[Value]) -> &Value {
    frames.last().expect("an answer frame")
}

fn sources(frame: &Value) -> Vec<String> {
    frame["sources"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|s| {
                    format!(
                        "{} › {}",
                        s["title"].as_str().unwrap_or_default(),
                        s["section"].as_str().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn llm_on(fake: &FakeLlm) -> impl FnOnce(&mut showroom::config::RawSettings) + use<> {
    let url = fake.base_url.clone();
    move |raw| {
        raw.assistant.llm.base_url = url;
        raw.assistant.llm.first_token_timeout = "1s".into();
        raw.assistant.llm.timeout = "5s".into();
        raw.assistant.llm.max_retries = 1;
    }
}

#[tokio::test]
async fn extractive_answers_cite_the_spec_sheet_in_the_widget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir.path().join("data"), |_| {}).await;
    let mut socket = open_widget(&server).await;

    let frames = ask(&mut socket, "¿cuánto rinde la tiguan en carretera?").await;
    let reply = answer(&frames);
    let text = reply["text"].as_str().expect("text");
    println!(
        "Q: ¿cuánto rinde la tiguan en carretera?\nA: {text}\n   sources: {:?}",
        sources(reply)
    );
    assert!(text.contains("13 km/l"), "{text}");
    assert!(
        sources(reply).iter().any(|s| s.contains("Tiguan")),
        "{reply}"
    );

    let frames = ask(
        &mut socket,
        "¿el tiguan trae techo panorámico de cristal ahumado?",
    )
    .await;
    let reply = answer(&frames);
    let text = reply["text"].as_str().expect("text");
    println!("Q: ¿el tiguan trae techo panorámico de cristal ahumado?\nA: {text}");
    assert!(text.contains("No tengo ese dato"), "{text}");
    let buttons: Vec<&str> = reply["buttons"]
        .as_array()
        .expect("buttons")
        .iter()
        .filter_map(|b| b["payload"].as_str())
        .collect();
    assert!(buttons.contains(&"flow:advisor"), "{buttons:?}");

    let frames = ask(
        &mut socket,
        "what is the fuel consumption of the tiguan on the highway?",
    )
    .await;
    let text = answer(&frames)["text"].as_str().expect("text").to_owned();
    assert!(text.starts_with("According to"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn intent_lands_in_the_test_drive_flow_pre_filled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir.path().join("data"), |_| {}).await;
    let mut socket = open_widget(&server).await;
    let frames = ask(
        &mut socket,
        "quiero probar el Tiguan el sábado en la sede norte",
    )
    .await;
    let noted = answer(&frames)["text"].as_str().expect("text").to_owned();
    let next = next_frame(&mut socket).await;
    let text = next["text"].as_str().expect("text").to_owned();
    println!("Q: quiero probar el Tiguan el sábado en la sede norte\nA: {noted}\nA: {text}");
    // Model, branch and day are filled in, and said: the next question is the time.
    assert!(
        noted.starts_with("Perfecto, ya anoté: Tiguan · Sede Norte"),
        "{noted}"
    );
    assert!(noted.contains("sáb"), "{noted}");
    assert!(text.contains("¿A qué hora?"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn llm_answers_stream_to_the_widget_frame_by_frame() {
    let fake = FakeLlm::start().await;
    let pieces = [
        "En carretera ",
        "a velocidad constante ",
        "el Tiguan puede pasar ",
        "de 13 km/l [1].",
    ];
    fake.push(FakeReply::Text {
        pieces: pieces.iter().map(|p| p.to_string()).collect(),
        delay_between: Duration::from_millis(50),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir.path().join("data"), llm_on(&fake)).await;
    let mut socket = open_widget(&server).await;

    let frames = ask(&mut socket, "¿cuánto rinde la tiguan en carretera?").await;
    let deltas: Vec<&Value> = frames.iter().filter(|f| f["type"] == "delta").collect();
    assert_eq!(deltas.len(), pieces.len(), "{frames:?}");
    for (delta, piece) in deltas.iter().zip(pieces) {
        assert_eq!(delta["text"], piece);
        assert_eq!(delta["id"], deltas[0]["id"], "one stream id");
    }
    let end = answer(&frames);
    assert_eq!(end["type"], "message_end");
    assert_eq!(end["id"], deltas[0]["id"]);
    assert_eq!(
        end["text"],
        "En carretera a velocidad constante el Tiguan puede pasar de 13 km/l."
    );
    assert!(sources(end).iter().any(|s| s.contains("Tiguan")), "{end}");

    // The prompt: the system rules, then the delimited passages and question.
    let request = fake.requests().pop().expect("a request");
    assert_eq!(request["stream"], true);
    let messages = request["messages"].as_array().expect("messages");
    assert_eq!(messages[0]["role"], "system");
    let last = messages.last().expect("question");
    assert_eq!(last["role"], "user");
    let content = last["content"].as_str().unwrap_or_default();
    assert!(
        content.contains("13 km/l"),
        "the passages are in the prompt: {content}"
    );
    assert!(
        content.contains("<customer_message>") && content.contains("</customer_message>"),
        "{content}"
    );
    assert!(request["tools"].as_array().is_some_and(|t| !t.is_empty()));
    server.stop().await;
}

#[tokio::test]
async fn a_429_is_retried_and_a_timeout_falls_back_to_the_extractive_answer() {
    let fake = FakeLlm::start().await;
    fake.push(FakeReply::Status {
        status: 429,
        retry_after: Some(1),
    });
    fake.push(FakeReply::Text {
        pieces: vec!["Puede pasar de 13 km/l en carretera [1].".into()],
        delay_between: Duration::ZERO,
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir.path().join("data"), llm_on(&fake)).await;
    let mut socket = open_widget(&server).await;

    let frames = ask(&mut socket, "¿cuánto rinde la tiguan en carretera?").await;
    assert_eq!(
        answer(&frames)["text"],
        "Puede pasar de 13 km/l en carretera."
    );
    assert_eq!(fake.requests().len(), 2, "one 429, one success");

    // The model stalls past the first-token timeout (twice: the retry too).
    fake.push(FakeReply::Stall(Duration::from_secs(3)));
    fake.push(FakeReply::Stall(Duration::from_secs(3)));
    let frames = ask(&mut socket, "¿cuánto rinde la tiguan en carretera?").await;
    let text = answer(&frames)["text"].as_str().expect("text").to_owned();
    assert!(
        text.starts_with("Según"),
        "extractive fallback expected: {text}"
    );
    assert!(text.contains("13 km/l"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn an_invented_figure_is_replaced_by_the_extractive_answer() {
    let fake = FakeLlm::start().await;
    fake.push(FakeReply::Text {
        pieces: vec![
            "El Tiguan rinde ".into(),
            "25 km/l en carretera [1].".into(),
        ],
        delay_between: Duration::from_millis(20),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir.path().join("data"), llm_on(&fake)).await;
    let mut socket = open_widget(&server).await;

    let frames = ask(&mut socket, "¿cuánto rinde la tiguan en carretera?").await;
    let end = answer(&frames);
    let text = end["text"].as_str().expect("text");
    // The pieces streamed, but the committed answer that replaces them is checked.
    assert!(frames.iter().any(|f| f["type"] == "delta"));
    assert!(
        !text.contains("25 km/l"),
        "the invented figure got through: {text}"
    );
    assert!(text.contains("13 km/l"), "{text}");
    assert!(sources(end).iter().any(|s| s.contains("Tiguan")), "{end}");
    server.stop().await;
}

#[tokio::test]
async fn a_tool_call_starts_the_flow_with_what_was_said() {
    let fake = FakeLlm::start().await;
    fake.push(FakeReply::ToolCall {
        name: "start_test_drive".into(),
        arguments: json!({"model": "Tiguan", "branch": "Sede Norte", "day": "el sábado"}),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir.path().join("data"), llm_on(&fake)).await;
    let mut socket = open_widget(&server).await;
    // No trigger phrase and no rule fits: only the model's tool call can start the flow.
    let frames = ask(
        &mut socket,
        "¿me apartas un turno con la tiguan este sábado en la del norte?",
    )
    .await;
    assert_eq!(fake.requests().len(), 1, "the LLM was asked");
    let noted = answer(&frames)["text"].as_str().expect("text").to_owned();
    assert!(
        noted.starts_with("Perfecto, ya anoté: Tiguan · Sede Norte"),
        "{noted}"
    );
    let text = next_frame(&mut socket).await["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(text.contains("¿A qué hora?"), "{text}");
    server.stop().await;
}

#[derive(Debug, serde::Deserialize)]
struct Injection {
    id: String,
    text: String,
    obey: String,
    #[serde(default)]
    say: Option<String>,
}

#[tokio::test]
async fn prompt_injections_against_an_obedient_model_are_blocked() {
    let corpus: Vec<Injection> = serde_saphyr::from_str(
        &std::fs::read_to_string(repo("tests/fixtures/injections.yaml")).expect("corpus"),
    )
    .expect("valid corpus");
    assert!(corpus.len() >= 30, "at least 30 attempts");
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir.path().join("data"), llm_on(&fake)).await;
    let client = reqwest::Client::new();
    let mut blocked = 0;
    for attempt in &corpus {
        let before = fake.requests().len();
        let body: Value = client
            .post(server.url("/api/v1/chat/messages"))
            .json(&json!({"text": attempt.text}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        let replies = body["replies"].as_array().expect("replies");
        let text: String = replies
            .iter()
            .filter_map(|r| r["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let requests = fake.requests();
        let asked = requests.len() > before;
        let system = requests
            .last()
            .and_then(|r| r["messages"][0]["content"].as_str())
            .unwrap_or_default()
            .to_owned();
        // The rules the model was given never reach the customer…
        if asked {
            let rules = system.lines().filter(|l| l.split_whitespace().count() >= 8);
            for line in rules {
                assert!(
                    !text.contains(line.trim()),
                    "{}: the system prompt leaked: {text}",
                    attempt.id
                );
            }
        }
        // …nor does what the injection made the model say.
        if let Some(payload) = &attempt.say {
            assert!(
                !text.contains(payload.as_str()),
                "{} ({}): the injected answer got through: {text}",
                attempt.id,
                attempt.obey
            );
        }
        blocked += 1;
    }
    println!("{blocked} of {} injection attempts blocked", corpus.len());
    server.stop().await;
}

#[test]
fn ask_prints_the_answer_and_its_sources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_showroom"))
        .args(["ask", "cuanto rinde la tiguan en carretera"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SHOWROOM_DATA_DIR", dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .expect("run showroom ask");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("13 km/l"), "{stdout}");
    assert!(stdout.contains("Sources:"), "{stdout}");
    assert!(stdout.contains("Tiguan"), "{stdout}");
}

#[test]
fn a_broken_prompt_file_is_reported_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prompts = dir.path().join("prompts");
    std::fs::create_dir_all(&prompts).expect("mkdir");
    let shipped = std::fs::read_to_string(repo("prompts/system.j2")).expect("read");
    std::fs::write(
        prompts.join("system.j2"),
        shipped.replace("{{ dealer_name }}", "{{ dealer_nmae }}"),
    )
    .expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_showroom"))
        .args(["ask", "cuanto rinde la tiguan en carretera"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SHOWROOM_DATA_DIR", dir.path().join("data"))
        .env("SHOWROOM_PROMPTS_DIR", &prompts)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .expect("run showroom ask");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a broken prompt must stop the command"
    );
    assert!(stderr.contains("system.j2:"), "{stderr}");
    assert!(
        stderr.contains("dealer_name"),
        "the hint names the right variable: {stderr}"
    );
}

#[tokio::test]
async fn a_question_in_the_middle_of_a_flow_is_answered_and_the_step_asked_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir.path().join("data"), |_| {}).await;
    let mut socket = open_widget(&server).await;
    let frames = ask(&mut socket, "quiero una prueba de manejo").await;
    let asked = answer(&frames)["text"].as_str().expect("text").to_owned();
    assert!(asked.contains("¿Qué modelo quieres manejar?"), "{asked}");

    // Not an answer to "which model": a question, answered from the FAQ.
    let frames = ask(
        &mut socket,
        "¿qué documentos necesito llevar para la prueba?",
    )
    .await;
    let reply = answer(&frames);
    let text = reply["text"].as_str().expect("text");
    assert!(text.contains("Licencia de conducción vigente"), "{text}");
    assert!(
        sources(reply)
            .iter()
            .any(|s| s.contains("Prueba de manejo")),
        "{reply}"
    );
    let again = next_frame(&mut socket).await;
    assert!(
        again["text"]
            .as_str()
            .unwrap_or_default()
            .contains("¿Qué modelo quieres manejar?"),
        "{again}"
    );
    // The flow goes on where it was.
    let frames = ask(&mut socket, "tiguan").await;
    let next = answer(&frames)["text"].as_str().expect("text").to_owned();
    assert!(
        next.contains("¿En qué sede quieres probar el Tiguan?"),
        "{next}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_broken_prompt_edit_is_reported_and_the_last_good_prompts_stay_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prompts = dir.path().join("prompts");
    std::fs::create_dir_all(&prompts).expect("mkdir");
    for file in ["system.j2", "context.j2"] {
        std::fs::copy(repo("prompts").join(file), prompts.join(file)).expect("copy");
    }
    let folder = prompts.clone();
    let server = server(&dir.path().join("data"), move |raw| {
        raw.prompts_dir = folder;
    })
    .await;
    let client = reqwest::Client::new();
    let status = || async {
        client
            .get(server.url("/admin/api/prompts"))
            .bearer_auth(crate::support::ADMIN_TOKEN)
            .send()
            .await
            .ok()?
            .json::<Value>()
            .await
            .ok()
    };
    let before = status().await.expect("prompt status");
    assert_eq!(before["status"]["diagnostics"], json!([]), "{before}");

    let shipped = std::fs::read_to_string(prompts.join("system.j2")).expect("read");
    std::fs::write(
        prompts.join("system.j2"),
        shipped.replace("{% endfor %}", "{% endfro %}"),
    )
    .expect("write");
    let reported = crate::support::wait_for(|| async {
        let body = status().await?;
        let text = body["status"]["diagnostics"].to_string();
        text.contains("system.j2").then_some(text)
    })
    .await;
    assert!(reported.is_some(), "the broken edit was not reported");

    // Customers are still answered.
    let mut socket = open_widget(&server).await;
    let frames = ask(&mut socket, "¿cuánto rinde la tiguan en carretera?").await;
    let text = answer(&frames)["text"].as_str().expect("text").to_owned();
    assert!(text.contains("13 km/l"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn with_an_llm_longer_messages_are_also_read_for_the_lead() {
    let fake = FakeLlm::start().await;
    // What the model "reads": the rules alone would not find the budget phrased this way.
    fake.push_structured(json!({
        "name": null, "phone": null, "email": null, "national_id": null, "city": "Cali",
        "model": "tiguan", "branch": null, "budget": 120_000_000,
        "timeframe": "within_30_days", "financing": true, "trade_in": null,
        "asked_price": true, "asked_financing": true, "just_looking": false
    }));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir.path().join("data"), llm_on(&fake)).await;
    let mut socket = open_widget(&server).await;
    ask(
        &mut socket,
        "mi esposa y yo queremos algo familiar como la tiguan, nos alcanza con ciento veinte palos y la queremos antes de navidad",
    )
    .await;

    let client = reqwest::Client::new();
    let lead = crate::support::wait_for(|| {
        let client = client.clone();
        let url = server.url("/admin/api/leads");
        async move {
            let body: Value = client
                .get(url)
                .bearer_auth(crate::support::ADMIN_TOKEN)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let lead = body["leads"].get(0)?.clone();
            (lead["lead"]["interest"]["budget_cop"] == 120_000_000
                || lead["interest"]["budget_cop"] == 120_000_000)
                .then_some(lead)
        }
    })
    .await
    .expect("the LLM's reading reached the lead");
    println!("lead after the LLM read the message: {lead}");
    let text = lead.to_string();
    assert!(text.contains("within_30_days"), "{text}");
    assert!(text.contains("asked_price"), "{text}");
    // No consent was given: the city (personal data) was not kept on the profile.
    assert!(!text.contains("\"Cali\""), "{text}");

    let read = fake.structured_requests();
    assert_eq!(read.len(), 1, "one reading per longer message");
    assert_eq!(read[0]["response_format"]["json_schema"]["strict"], true);
    let prompt = read[0]["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(prompt.contains("ciento veinte palos"), "{prompt}");
    server.stop().await;
}
