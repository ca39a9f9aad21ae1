//! A bad setting stops `showroom serve` at start with the key, the value and what is
//! expected, before anything listens.

use std::process::Command;

fn serve_with(env: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_showroom"));
    command
        .args(args)
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("DATABASE_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("run showroom");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_listen_address() {
    let (ok, stderr) = serve_with(&[("SHOWROOM_LISTEN", "everywhere")], &[]);
    assert!(!ok);
    assert!(stderr.contains("setting `listen`"), "{stderr}");
    assert!(stderr.contains("\"everywhere\""), "{stderr}");
    assert!(stderr.contains("127.0.0.1:8080"), "{stderr}");
}

#[test]
fn bad_number_from_the_environment_names_the_key() {
    let (ok, stderr) = serve_with(&[("SHOWROOM_WEB__MAX_MESSAGE_CHARS", "lots")], &[]);
    assert!(!ok);
    assert!(stderr.contains("web.max_message_chars"), "{stderr}");
    assert!(stderr.contains("lots"), "{stderr}");
}

#[test]
fn bad_duration_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dealer.toml");
    std::fs::write(&file, "[bot]\nidle_timeout = \"a while\"\n").unwrap();
    let (ok, stderr) = serve_with(&[], &["--config", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("bot.idle_timeout"), "{stderr}");
    assert!(stderr.contains("\"30s\""), "{stderr}");
}

#[test]
fn short_admin_token_is_refused_without_printing_it() {
    let (ok, stderr) = serve_with(&[("ADMIN_TOKEN", "secret")], &[]);
    assert!(!ok);
    assert!(stderr.contains("ADMIN_TOKEN"), "{stderr}");
    assert!(!stderr.contains("secret\""), "{stderr}");
}

#[test]
fn the_shipped_settings_file_is_valid() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/showroom.toml");
    let config = showroom::config::Config::load(Some(std::path::Path::new(file)));
    assert!(config.is_ok(), "{:?}", config.err());
}

#[test]
fn the_shipped_settings_file_shows_the_built_in_defaults() {
    // showroom.toml promises that `serve` behaves the same with or without it.
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/showroom.toml");
    use figment::providers::{Format, Serialized, Toml};
    let raw: showroom::config::RawSettings = figment::Figment::from(Serialized::defaults(
        showroom::config::RawSettings::default(),
    ))
    .merge(Toml::file_exact(file))
    .extract()
    .unwrap();
    let shipped =
        showroom::config::Config::validate(raw, None, showroom::config::Secrets::default())
            .unwrap();
    let defaults = showroom::config::Config::validate(
        showroom::config::RawSettings::default(),
        None,
        showroom::config::Secrets::default(),
    )
    .unwrap();
    assert_eq!(format!("{shipped:#?}"), format!("{defaults:#?}"));
}
