//! Regression for "unauthenticated memory exhaustion": 200 concurrent wrong
//! passwords once grew the server by gigabytes (one ~19 MiB argon2
//! verification each, 512 at once) and left a valid login waiting seconds.
//! Verification now runs in a few fixed slots; the excess is refused with
//! 503 without hashing. Its own test binary, so nothing else runs beside it.
//! Throttling is switched off here so that the slots alone are tested.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use caisson_registry::auth::guard::AuthLimits;
use caisson_registry::Config;
use reqwest::Method;

/// The documented ceiling on growth during the burst (docs/registry.md).
const CEILING_MIB: u64 = 200;

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("field")
}

#[test]
fn a_burst_of_wrong_passwords_is_bounded_in_memory_and_does_not_starve_valid_logins() {
    // Measure what is allocated, not the allocator's transparent-huge-page
    // rounding (each 2 MiB region touched once stays resident), which the
    // 200 client threads of this same process inflate.
    let _ = nix::sys::prctl::set_thp_disable(true);
    let s = Arc::new(common::start_with(Config {
        auth: AuthLimits {
            free_failures: u32::MAX,
            ..AuthLimits::default()
        },
        ..Config::default()
    }));
    let r = s
        .admin(Method::POST, "/api/v1/users")
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&serde_json::json!({"name": "alice", "password": "alice-pass-1"}))
                .expect("json"),
        )
        .send()
        .expect("add user");
    assert_eq!(r.status(), 201);
    let before = status_kib("VmRSS:");
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                s.req(Method::GET, "/v2/", Some(("admin", &format!("wrong-{i}"))))
                    .send()
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let statuses: Vec<u16> = threads
        .into_iter()
        .map(|t| t.join().expect("join"))
        .collect();
    let peak = status_kib("VmHWM:");
    let refused = statuses.iter().filter(|&&c| c == 503).count();
    let denied = statuses.iter().filter(|&&c| c == 401).count();
    assert_eq!(refused + denied, 200, "{statuses:?}");
    assert!(refused > 0, "the excess must be refused without hashing");
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(
        grown_mib < CEILING_MIB,
        "peak RSS grew by {grown_mib} MiB (ceiling {CEILING_MIB} MiB)"
    );
    // A valid login (not cached) right after the burst is served promptly.
    let t = Instant::now();
    let r = s
        .req(Method::GET, "/v2/", Some(("alice", "alice-pass-1")))
        .send()
        .expect("valid login");
    let took = t.elapsed();
    assert_eq!(r.status(), 200);
    assert!(
        took < Duration::from_millis(200),
        "valid login took {took:?}"
    );
}
