//! The widget in a real headless Chromium (Debian `chromium`, driven by `playwright-core`):
//! open the demo page, open the widget, click a button, see the reply, reload and see the
//! conversation resumed; book a test drive; ask the assistant. Screenshots land in
//! `target/test-artifacts/`.

use std::path::{Path, PathBuf};

use crate::support::{TestServer, artifacts_dir, start_server};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tests/browser/<script>` against `server`; returns its stdout once it succeeded,
/// and the screenshot folder.
async fn run_script(script: &str, server: &TestServer) -> (String, PathBuf) {
    let browser_dir = root().join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed; run `scripts/test` (it installs Chromium and playwright-core) or `npm ci --prefix tests/browser`"
    );
    let screenshots = artifacts_dir();
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join(script))
        .arg(format!("http://{}", server.addr))
        .arg(&screenshots)
        .output()
        .await
        .expect("node must be installed to run the browser test");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser test {script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (stdout, screenshots)
}

fn assert_screenshots(dir: &Path, shots: &[&str]) {
    for shot in shots {
        let path = dir.join(shot);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 1000,
            "screenshot {} missing or empty",
            path.display()
        );
    }
}

#[tokio::test]
async fn widget_works_in_headless_chromium() {
    let server = start_server(|_| {}).await;
    let (stdout, screenshots) = run_script("widget.mjs", &server).await;
    assert!(stdout.contains("ok - "), "{stdout}");
    assert_screenshots(
        &screenshots,
        &[
            "widget-greeting.png",
            "widget-after-click.png",
            "widget-phone.png",
        ],
    );
    server.stop().await;
}

#[tokio::test]
async fn a_test_drive_is_booked_through_the_widget() {
    let server = start_server(|raw| {
        raw.flows_dir = root().join("flows");
    })
    .await;
    let (stdout, screenshots) = run_script("test_drive.mjs", &server).await;
    assert!(
        stdout.contains("ok - the confirmation shows the booking code"),
        "{stdout}"
    );
    assert_screenshots(&screenshots, &["widget-test-drive.png"]);
    server.stop().await;
}

#[tokio::test]
async fn the_assistant_answers_in_the_widget() {
    let server = start_server(|raw| {
        raw.flows_dir = root().join("flows");
        raw.knowledge_dir = root().join("knowledge");
    })
    .await;
    // The shipped knowledge is indexed in the background at start.
    let indexed = crate::support::knowledge_status(&server, |status| {
        status["ingested_at"].as_i64().is_some_and(|at| at > 0)
    })
    .await;
    assert!(indexed.is_some(), "the knowledge was not indexed");
    let (stdout, screenshots) = run_script("assistant.mjs", &server).await;
    assert!(
        stdout.contains("ok - the test-drive flow asks for the time"),
        "{stdout}"
    );
    assert_screenshots(
        &screenshots,
        &[
            "widget-assistant-answer.png",
            "widget-assistant-no-data.png",
            "widget-assistant-intent.png",
        ],
    );
    server.stop().await;
}
