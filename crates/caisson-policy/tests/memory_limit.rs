//! The memory ceiling of policy evaluation (its own test binary: the
//! ceiling and the allocator's counters are process-wide).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use caisson_policy::{Limits, PolicySet, Request, SupplyChainFacts};
use serde_json::{json, Value as Json};

fn pod() -> Json {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}})
}

// Builds ever larger sets: memory, not time, is what it exhausts first.
const HUNGRY: &str = r#"
package caisson.hungry

import rego.v1

big := {sprintf("%d-a-string-of-some-length", [i]) | some i in numbers.range(1, 2000000)}

deny contains msg if {
	count(big) == -1
	msg := "unreachable"
}
"#;

/// The allocator regorus declares counts allocations; a policy that would
/// take the process past the ceiling is stopped with `policy-memory`, and the
/// process's heap stays near the ceiling instead of growing without bound.
#[test]
fn memory_hungry_policy_is_stopped_at_the_ceiling() {
    let baseline = regorus_mimalloc::global_allocation_stats_snapshot();
    let ceiling = 96u64 << 20;
    let mut b = PolicySet::builder();
    b.rego_source("hungry.rego", HUNGRY).unwrap();
    b.limits(Limits {
        policy_timeout: Duration::from_secs(60),
        object_timeout: Duration::from_secs(60),
        memory_ceiling: Some(ceiling),
        ..Limits::default()
    });
    let set = b.build().unwrap();
    let d = set.evaluate(&Request::from_object(pod()), &SupplyChainFacts::default());
    assert!(!d.allowed, "fails closed");
    let v = &d.denials[0];
    assert_eq!(v.code, "policy-memory", "{}", v.message);
    assert!(
        v.message.contains("ceiling for policy evaluation"),
        "{}",
        v.message
    );
    let after = regorus_mimalloc::global_allocation_stats_snapshot();
    eprintln!("baseline {baseline:?}, after {after:?}: {}", v.message);
    // Checked as it goes: the heap passes the ceiling by at most what one
    // step allocates (here the 2,000,000-element range, ~48 MiB), where the
    // whole set would take several hundred MiB.
    assert!(
        after.peak < ceiling + (64 << 20),
        "peak {} MiB with a {} MiB ceiling",
        after.peak >> 20,
        ceiling >> 20
    );

    // A well-behaved policy under the same ceiling still runs.
    let mut b = PolicySet::builder();
    b.builtin("pss-baseline").unwrap();
    b.limits(Limits {
        memory_ceiling: Some(ceiling),
        ..Limits::default()
    });
    let d = b
        .build()
        .unwrap()
        .evaluate(&Request::from_object(pod()), &SupplyChainFacts::default());
    assert!(d.allowed, "{d:?}");
}
