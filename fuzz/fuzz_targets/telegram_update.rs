#![no_main]
// The body lives in `showroom::fuzzing`, shared with the corpus replay in CI.
libfuzzer_sys::fuzz_target!(|data: &[u8]| showroom::fuzzing::telegram_update(data));
