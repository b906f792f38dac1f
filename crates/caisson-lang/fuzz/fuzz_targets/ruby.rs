#![no_main]
// Installed gemspecs (read as text, never evaluated) and Gemfile.lock.
mod common;
use caisson_lang::ruby;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = ruby::parse_gemspec(&text);
    let _ = ruby::parse_gemfile_lock(&text);
    common::catalog_at(
        &["/g/specifications/x-1.gemspec", "/app/Gemfile.lock"],
        data,
    );
});
