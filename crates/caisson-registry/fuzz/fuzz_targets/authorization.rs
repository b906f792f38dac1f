//! The `Authorization` header (Basic credentials, Bearer tokens verified
//! against a key) and the token endpoint's `scope` parameter.
#![no_main]

use std::sync::OnceLock;

use caisson_registry::auth::parse_basic;
use caisson_registry::auth::token::{parse_scopes, TokenKey};
use libfuzzer_sys::fuzz_target;

fn key() -> &'static TokenKey {
    static KEY: OnceLock<TokenKey> = OnceLock::new();
    KEY.get_or_init(TokenKey::generate)
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_basic(s);
    let _ = parse_basic(&format!("Basic {s}"));
    // A forged token never verifies: the fuzzer does not hold the key.
    let token = s.strip_prefix("Bearer ").unwrap_or(s);
    assert!(key().verify(token, 0, "caisson").is_err());
    for scope in parse_scopes(s) {
        assert!(!scope.kind.contains(' '));
    }
});
