#![no_main]
// yarn.lock (v1 and berry YAML) and pnpm-lock.yaml (5.x, 6.x, 9.x keys).
mod common;
use caisson_lang::{pnpm, yarn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = yarn::parse(&text);
    let _ = yarn::parse_v1(&text);
    let _ = yarn::parse_berry(&text);
    let _ = pnpm::parse(&text);
    let _ = pnpm::split_key(&text);
    common::catalog_at(&["/app/yarn.lock", "/app/pnpm-lock.yaml"], data);
});
