//! The image checks on an arbitrary JSON config and history: no panic.
#![no_main]

use caisson_misconfig::{check_image, ImageInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let history: Vec<serde_json::Value> = v
        .get("history")
        .and_then(|h| h.as_array())
        .cloned()
        .unwrap_or_default();
    let _ = check_image(&ImageInput { config: v.get("config"), history: &history, files: &[] });
});
