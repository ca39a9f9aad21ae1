//! `showroom chat`: in-process with scripted input, and the real binary over a pipe.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use showroom::config::Config;

#[tokio::test]
async fn buttons_are_numbered_and_picked_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::defaults_with_data_dir(dir.path()).unwrap();
    config.flows_dir = dir.path().join("no-flows");
    let services = showroom::server::open(&config).await.unwrap();
    let (store, engine) = (services.store, services.engine);
    let input: &[u8] = b"2\n\n1\n/salir\n";
    let mut output = Vec::new();
    showroom::channels::cli::run(&engine, "ana", input, &mut output)
        .await
        .unwrap();
    let output = String::from_utf8(output).unwrap();
    assert!(output.contains("  [1] Prueba de manejo"), "{output}");
    assert!(output.contains("  [2] Cita de taller"), "{output}");
    assert!(
        output.contains("placa"),
        "2 picked the service appointment: {output}"
    );
    assert!(
        output.contains("¿En qué más te puedo ayudar?"),
        "1 went back to the menu: {output}"
    );

    // Coming back continues the same conversation without a second greeting.
    let mut again = Vec::new();
    showroom::channels::cli::run(&engine, "ana", &b"/salir\n"[..], &mut again)
        .await
        .unwrap();
    let again = String::from_utf8(again).unwrap();
    assert!(!again.contains("¡Hola!"), "{again}");
    let engine = Arc::clone(&engine);
    drop(engine);
    store.close().await;
}

#[test]
fn the_chat_command_talks_over_stdin_and_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_showroom"))
        .arg("chat")
        .current_dir(dir.path())
        .env("SHOWROOM_DATA_DIR", dir.path().join("data"))
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start showroom chat");
    child.stdin.take().unwrap().write_all(b"3\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[3] Hablar con un asesor"), "{stdout}");
    assert!(stdout.contains("Un asesor te contactará"), "{stdout}");
}
