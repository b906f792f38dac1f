#![no_main]
// Composer installed.json (v1 array, v2 object) and composer.lock; .NET deps.json.
mod common;
use caisson_lang::{dotnet, php};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = php::parse_installed(data);
    let _ = php::parse_lock(data);
    let _ = dotnet::parse_deps_json(data);
    common::catalog_at(
        &[
            "/w/vendor/composer/installed.json",
            "/w/composer.lock",
            "/app/App.deps.json",
        ],
        data,
    );
});
