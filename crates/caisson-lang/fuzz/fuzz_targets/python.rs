#![no_main]
// Python metadata and lockfiles: METADATA/PKG-INFO, RECORD, requirements.txt,
// poetry.lock/uv.lock (TOML), Pipfile.lock (JSON).
mod common;
use caisson_lang::{pylock, python};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = python::parse_metadata(&text);
    let _ = python::parse_record(&text);
    let _ = pylock::parse_requirements(&text);
    let _ = pylock::parse_toml_lock(&text);
    let _ = pylock::parse_pipfile_lock(data);
    common::catalog_at(
        &[
            "/s/x-1.dist-info/METADATA",
            "/s/x-1.dist-info/RECORD",
            "/s/y.egg-info",
            "/a/requirements.txt",
            "/a/uv.lock",
            "/a/Pipfile.lock",
        ],
        data,
    );
});
