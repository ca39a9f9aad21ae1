//! Replays the fuzz corpus on stable Rust, without cargo-fuzz: every file in
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the same
//! function the fuzz target calls (`showroom::fuzzing`), which panics on a crash or a
//! broken invariant. A finding fixed once stays fixed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use showroom::fuzzing::TARGETS;

/// The files of `dir`, sorted; none when the folder does not exist (no regressions yet).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_and_regression_input_passes_its_target() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    for (target, run) in TARGETS {
        let files: Vec<PathBuf> = ["corpus", "regressions"]
            .iter()
            .flat_map(|kind| inputs(&fuzz.join(kind).join(target)))
            .collect();
        assert!(
            !files.is_empty(),
            "no inputs for the fuzz target `{target}` in fuzz/corpus/{target}/"
        );
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
                let reason = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{target}: {}: {reason}", file.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "inputs that panic (reproduce with `cargo fuzz run <target> <file>`):\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_fuzz_target_has_a_replay() {
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut on_disk: Vec<String> = inputs(&targets)
        .iter()
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
        .collect();
    on_disk.sort();
    let mut replayed: Vec<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    replayed.sort();
    assert_eq!(
        on_disk, replayed,
        "fuzz/fuzz_targets/ and showroom::fuzzing::TARGETS differ"
    );
}
