//! The widget in a real headless Chromium (Debian `chromium`, driven by `playwright-core`):
//! open the demo page, open the widget, click a button, see the reply, reload and see the
//! conversation resumed. Screenshots land in `target/test-artifacts/`.

use std::path::Path;

use crate::support::{artifacts_dir, start_server};

#[tokio::test]
async fn widget_works_in_headless_chromium() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed; run `scripts/test` (it installs Chromium and playwright-core) or `npm ci --prefix tests/browser`"
    );
    let server = start_server(|_| {}).await;
    let screenshots = artifacts_dir();
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("widget.mjs"))
        .arg(format!("http://{}", server.addr))
        .arg(&screenshots)
        .output()
        .await
        .expect("node must be installed to run the browser test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ok - "), "{stdout}");
    for shot in [
        "widget-greeting.png",
        "widget-after-click.png",
        "widget-phone.png",
    ] {
        let path = screenshots.join(shot);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 1000,
            "screenshot {} missing or empty",
            path.display()
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_test_drive_is_booked_through_the_widget() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed; run `scripts/test` or `npm ci --prefix tests/browser`"
    );
    let server = start_server(|raw| {
        raw.flows_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    })
    .await;
    let screenshots = artifacts_dir();
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("test_drive.mjs"))
        .arg(format!("http://{}", server.addr))
        .arg(&screenshots)
        .output()
        .await
        .expect("node must be installed to run the browser test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("ok - the confirmation shows the booking code"),
        "{stdout}"
    );
    let shot = screenshots.join("widget-test-drive.png");
    assert!(std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0) > 1000);
    server.stop().await;
}

#[tokio::test]
async fn the_assistant_answers_in_the_widget() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed; run `scripts/test` or `npm ci --prefix tests/browser`"
    );
    let server = start_server(|raw| {
        raw.flows_dir = root.join("flows");
        raw.knowledge_dir = root.join("knowledge");
    })
    .await;
    // The shipped knowledge is indexed in the background at start.
    let indexed = crate::support::knowledge_status(&server, |status| {
        status["ingested_at"].as_i64().is_some_and(|at| at > 0)
    })
    .await;
    assert!(indexed.is_some(), "the knowledge was not indexed");
    let screenshots = artifacts_dir();
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("assistant.mjs"))
        .arg(format!("http://{}", server.addr))
        .arg(&screenshots)
        .output()
        .await
        .expect("node must be installed to run the browser test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for shot in [
        "widget-assistant-answer.png",
        "widget-assistant-no-data.png",
        "widget-assistant-intent.png",
    ] {
        let size = std::fs::metadata(screenshots.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 1000, "{shot} was not saved");
    }
    server.stop().await;
}
