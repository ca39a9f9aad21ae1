//! What each fuzz target in `fuzz/` does with its bytes, kept here so that the target
//! (`fuzz/fuzz_targets/*.rs`) and the corpus replay in CI (`tests/it/fuzz_replay.rs`)
//! run the very same code on stable Rust.
//!
//! Each function takes whatever bytes the fuzzer made, runs the path that outside input
//! takes in production, and checks what must hold whatever the input. A panic here is a
//! finding: either the code under test panicked, or an invariant `assert!` failed. So the
//! asserts below are the point of this module, not error handling.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use futures_util::FutureExt as _;

use crate::channels::callbacks::{CallbackCodec, MemoryPayloads};
use crate::channels::{telegram, viber};
use crate::flows::input::{self, InputContext, InputKind, Lang, PlateCountry};
use crate::flows::{Diagnostics, FlowSet, Vocabulary, validate::validate_sources};

/// What a fuzz target runs on one input.
pub type FuzzTarget = fn(&[u8]);

/// The fuzz targets, by name: each name is a `fuzz/fuzz_targets/<name>.rs` and a
/// `fuzz/corpus/<name>/` folder.
pub const TARGETS: &[(&str, FuzzTarget)] = &[
    ("flow_loader", flow_loader),
    ("telegram_update", telegram_update),
    ("viber_event", viber_event),
    ("spanish_date", spanish_date),
];

/// Separates flow files in one fuzz input: a NUL never appears in valid YAML, so a
/// mutated file does not split by accident more often than the fuzzer wants it to.
pub const FLOW_FILE_SEPARATOR: u8 = 0;

/// At most this many flow files per input: the shipped set, with jumps across files.
const MAX_FLOW_FILES: usize = 8;

/// The vocabulary `showroom flows check` uses with the default settings.
static FLOW_VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| {
    let config = crate::config::Config::defaults_with_data_dir("unused")
        .unwrap_or_else(|err| panic!("the default settings must validate: {err}"));
    crate::server::flow_vocabulary(&config, Arc::new(crate::booking::sources::NoBookings)).1
});

/// Flow files as staff save them (NUL-separated, up to eight) through parse and
/// validation. Whatever the text: no panic, and either a flow set or diagnostics, each
/// pointing at a line that exists in one of the files (or at `showroom.toml` for a
/// setting that names a missing flow).
pub fn flow_loader(data: &[u8]) {
    let sources: Vec<(PathBuf, String)> = data
        .split(|b| *b == FLOW_FILE_SEPARATOR)
        .take(MAX_FLOW_FILES)
        .enumerate()
        .map(|(i, bytes)| {
            (
                PathBuf::from(format!("flows/fuzz_{i}.yaml")),
                // `load_dir` refuses files that are not UTF-8 before parsing; the parser
                // is what is fuzzed here, so every input reaches it.
                String::from_utf8_lossy(bytes).into_owned(),
            )
        })
        .collect();
    match validate_sources(&sources, &FLOW_VOCABULARY) {
        Ok(set) => check_flow_set(&set),
        Err(diagnostics) => check_diagnostics(&diagnostics, &sources),
    }
}

fn check_flow_set(set: &FlowSet) {
    for flow in set.flows() {
        assert!(!flow.id.is_empty(), "a valid flow has an id");
        assert!(
            !flow.steps.is_empty(),
            "a valid flow has steps: {}",
            flow.id
        );
    }
}

fn check_diagnostics(diagnostics: &Diagnostics, sources: &[(PathBuf, String)]) {
    assert!(!diagnostics.is_empty(), "an invalid set says what is wrong");
    for diagnostic in &diagnostics.0 {
        let pos = &diagnostic.pos;
        assert!(
            !diagnostic.message.trim().is_empty(),
            "{pos}: a diagnostic without a message"
        );
        assert!(
            pos.line >= 1 && pos.column >= 1,
            "{pos}: positions start at 1"
        );
        if pos.file == Path::new("showroom.toml") {
            continue;
        }
        let Some((_, text)) = sources.iter().find(|(path, _)| *path == pos.file) else {
            panic!("{pos}: a diagnostic for a file that was not loaded");
        };
        let last_line = line_breaks(text) + 1;
        assert!(
            pos.line <= last_line,
            "{pos}: points past the end of the file ({last_line} lines): {diagnostic}"
        );
    }
    // What `showroom flows check` prints.
    let printed = diagnostics.to_string();
    assert!(printed.ends_with("found"), "the summary line is printed");
}

/// Line breaks as YAML counts them (`\n`, `\r\n`, a lone `\r`) plus the Unicode ones a
/// YAML 1.1 reader may also count, so the bound on diagnostic lines is never too tight.
fn line_breaks(text: &str) -> u64 {
    let mut count = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => count += 1,
            '\r' if chars.peek() != Some(&'\n') => count += 1,
            _ => {}
        }
    }
    count
}

/// A codec over an in-memory store: its futures never wait, so `now_or_never` runs them.
fn memory_codec(max_bytes: usize) -> CallbackCodec {
    CallbackCodec::new(Arc::new(MemoryPayloads::default()), max_bytes)
}

/// A Telegram webhook body (or one `getUpdates` entry): parsed, classified and, for a
/// button press, decoded, as the webhook and polling loop do. Parsing may refuse the
/// body; nothing may panic, and what `classify` returns is already trimmed.
pub fn telegram_update(data: &[u8]) {
    let Ok(update) = telegram::update::parse_update(data) else {
        return;
    };
    let Some(incoming) = telegram::update::classify(&update) else {
        return;
    };
    let _ = incoming.identity();
    assert_eq!(incoming.channel_message_id(), update.id.0.to_string());
    match &incoming.action {
        telegram::update::Action::Start { payload } => {
            if let Some(payload) = payload {
                assert!(
                    !payload.is_empty() && payload.trim() == payload,
                    "{payload:?}"
                );
            }
        }
        telegram::update::Action::Text { text } => {
            assert_eq!(text.trim(), text, "typed text is trimmed");
        }
        telegram::update::Action::Callback {
            data: Some(data), ..
        } => {
            let codec = memory_codec(crate::channels::callbacks::TELEGRAM_CALLBACK_BYTES);
            let decoded = telegram::update::button_content(&codec, data).now_or_never();
            assert!(decoded.is_some(), "an in-memory codec never waits");
        }
        telegram::update::Action::Callback { data: None, .. }
        | telegram::update::Action::Contact { .. }
        | telegram::update::Action::Unsupported => {}
    }
}

/// The auth token the Viber target signs with.
const VIBER_TOKEN: &[u8] = b"445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9";

/// A Viber callback: the first line is the `X-Viber-Content-Signature` header and the
/// rest the body (no newline: the whole input is the body, without a header). The
/// signature is accepted only when it is the body's own; then the body is parsed and a
/// customer's message turned into engine content, as the webhook does.
pub fn viber_event(data: &[u8]) {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (Some(String::from_utf8_lossy(&data[..at])), &data[at + 1..]),
        None => (None, data),
    };
    let own = viber::webhook::sign(VIBER_TOKEN, body);
    assert!(viber::webhook::verify_signature(
        VIBER_TOKEN,
        body,
        Some(&own)
    ));
    let accepted = viber::webhook::verify_signature(VIBER_TOKEN, body, header.as_deref());
    if accepted {
        let header = header.as_deref().unwrap_or_default();
        assert!(
            header.trim().eq_ignore_ascii_case(&own),
            "a signature that is not the body's was accepted: {header:?}"
        );
    }
    let Ok(event) = viber::events::parse(body) else {
        return;
    };
    if let viber::events::ViberEvent::Message {
        sender, message, ..
    } = &event
    {
        let _ = sender.language();
        let codec = viber::render::action_codec(Arc::new(MemoryPayloads::default()));
        let incoming = viber::events::incoming(message, &codec).now_or_never();
        assert!(incoming.is_some(), "an in-memory codec never waits");
    }
}

/// "Now" for the date target: Monday 2026-11-23 10:00, and the last minute of 2026 (the
/// year and month roll over), both in Bogotá.
fn date_contexts() -> [InputContext; 2] {
    let at = |year, month, day, hour, minute, language| {
        let now = jiff::civil::date(year, month, day)
            .at(hour, minute, 0, 0)
            .in_tz("America/Bogota")
            .unwrap_or_else(|err| panic!("Bogotá is in the bundled tz database: {err}"));
        InputContext {
            now,
            default_region: phonenumber::country::Id::CO,
            plate_country: PlateCountry::Co,
            language,
        }
    };
    [
        at(2026, 11, 23, 10, 0, Lang::Es),
        at(2026, 12, 31, 23, 59, Lang::En),
    ]
}

static DATE_CONTEXTS: LazyLock<[InputContext; 2]> = LazyLock::new(date_contexts);

/// A customer's answer to a date or time question ("mañana a las 3", "el sábado",
/// "15 de diciembre"). Accepted dates are real and not in the past; accepted times are
/// `HH:MM` on a 24-hour clock; a refusal says why in both languages.
pub fn spanish_date(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for ctx in DATE_CONTEXTS.iter() {
        match input::parse(InputKind::Date, &text, ctx) {
            Ok(parsed) => {
                let value = parsed.value.as_str().unwrap_or_default();
                let date: jiff::civil::Date = value
                    .parse()
                    .unwrap_or_else(|err| panic!("{text:?} gave {value:?}: {err}"));
                assert!(
                    date >= ctx.now.date(),
                    "{text:?} on {} gave a past date {date}",
                    ctx.now
                );
                assert!(!parsed.display.is_empty(), "{text:?}: nothing to show");
            }
            Err(invalid) => check_invalid(&text, &invalid),
        }
        match input::parse(InputKind::Time, &text, ctx) {
            Ok(parsed) => {
                let value = parsed.value.as_str().unwrap_or_default();
                let valid = value.split_once(':').is_some_and(|(h, m)| {
                    h.len() == 2
                        && m.len() == 2
                        && h.parse::<u8>().is_ok_and(|h| h < 24)
                        && m.parse::<u8>().is_ok_and(|m| m < 60)
                });
                assert!(valid, "{text:?} gave the time {value:?}");
                assert!(!parsed.display.is_empty(), "{text:?}: nothing to show");
            }
            Err(invalid) => check_invalid(&text, &invalid),
        }
    }
}

fn check_invalid(text: &str, invalid: &input::Invalid) {
    assert!(
        !invalid.message(Lang::Es).is_empty() && !invalid.message(Lang::En).is_empty(),
        "{text:?}: a refusal without a reason"
    );
}
