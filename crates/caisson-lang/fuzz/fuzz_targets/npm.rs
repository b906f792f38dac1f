#![no_main]
// npm: package.json (installed, project and Debian's global modules under
// /usr/share/nodejs, /usr/lib/<triplet>/nodejs) and package-lock.json v1-v3.
mod common;
use caisson_lang::npm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = npm::parse_package_json(data);
    let _ = npm::parse_package_lock(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = npm::installed_name(s);
        let _ = npm::os_module(s);
    }
    common::catalog_at(
        &[
            "/app/package.json",
            "/app/package-lock.json",
            "/app/node_modules/a/package.json",
            "/app/node_modules/@s/b/node_modules/c/package.json",
            "/usr/share/nodejs/d/package.json",
            "/usr/share/nodejs/@s/e/package.json",
            "/usr/lib/x86_64-linux-gnu/nodejs/f/package.json",
        ],
        data,
    );
});
