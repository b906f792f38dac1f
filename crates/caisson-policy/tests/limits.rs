//! Execution and size limits: a runaway policy times out with `policy-timeout`
//! (failing closed in enforce mode), huge or deep input is rejected before Rego.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use caisson_policy::{Limits, PolicySet, Request, SupplyChainFacts};
use serde_json::{json, Value as Json};

const EXPENSIVE: &str = r#"
package caisson.expensive

import rego.v1

# Rego forbids recursion, so a runaway policy is a huge iteration: 10^12 steps.
deny contains msg if {
	some i in numbers.range(1, 1000000)
	some j in numbers.range(1, 1000000)
	i * j == -1
	msg := "unreachable"
}
"#;

// Rule recursion (regorus reports it when the rule is evaluated).
const RECURSIVE: &str = r#"
package caisson.recursive

import rego.v1

deny contains msg if {
	some m in data.caisson.recursive.deny
	msg := m
}
"#;

fn pod() -> Json {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}})
}

#[test]
fn expensive_policy_times_out_and_denies() {
    let mut b = PolicySet::builder();
    b.rego_source("expensive.rego", EXPENSIVE).unwrap();
    b.limits(Limits {
        policy_timeout: Duration::from_millis(200),
        ..Limits::default()
    });
    let set = b.build().unwrap();
    let started = Instant::now();
    let d = set.evaluate(&Request::from_object(pod()), &SupplyChainFacts::default());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(!d.allowed);
    let v = &d.denials[0];
    assert_eq!(v.code, "policy-timeout");
    assert_eq!(v.policy, "expensive");
    assert!(
        v.message
            .contains("did not finish within its time limit (200 ms"),
        "{}",
        v.message
    );
}

#[test]
fn recursive_policy_fails_with_a_clear_error() {
    // Rego has no recursion: regorus reports it when the rule is evaluated.
    let mut b = PolicySet::builder();
    b.rego_source("recursive.rego", RECURSIVE).unwrap();
    let msg = match b.build() {
        Err(e) => e.to_string(),
        Ok(set) => {
            let d = set.evaluate(&Request::from_object(pod()), &SupplyChainFacts::default());
            assert!(!d.allowed, "an erroring enforce-mode policy fails closed");
            assert_eq!(d.denials[0].code, "policy-error");
            d.denials[0].message.clone()
        }
    };
    assert!(msg.contains("recursion"), "{msg}");
}

#[test]
fn huge_input_is_rejected_before_evaluation() {
    let mut b = PolicySet::builder();
    b.builtin("pss-baseline").unwrap();
    let set = b.build().unwrap();
    let mut p = pod();
    p["metadata"]["annotations"] = json!({"big": "x".repeat(4 << 20)});
    let d = set.evaluate(&Request::from_object(p), &SupplyChainFacts::default());
    assert!(!d.allowed);
    assert_eq!(d.denials[0].code, "input-too-large");
    assert!(
        d.denials[0].message.contains("larger than"),
        "{}",
        d.denials[0].message
    );

    let mut deep = json!("leaf");
    for _ in 0..100 {
        deep = json!({"a": deep});
    }
    let mut p = pod();
    p["metadata"]["annotations"] = deep;
    let d = set.evaluate(&Request::from_object(p), &SupplyChainFacts::default());
    assert_eq!(d.denials[0].code, "input-too-large");
    assert!(d.denials[0].message.contains("deeper than"));
}

#[test]
fn huge_manifest_file_is_rejected() {
    let limits = caisson_policy::manifest::ManifestLimits {
        max_bytes: 1024,
        max_documents: 10,
    };
    let text = "a: ".to_string() + &"b".repeat(2000);
    let err = caisson_policy::manifest::parse_documents(text.as_bytes(), "big.yaml", &limits)
        .unwrap_err();
    assert!(
        err.to_string().contains("over the 1024 byte limit"),
        "{err}"
    );
    let many = "---\nkind: A\n".repeat(20);
    let err = caisson_policy::manifest::parse_documents(many.as_bytes(), "many.yaml", &limits)
        .unwrap_err();
    assert!(err.to_string().contains("more than 10"), "{err}");
}

// Recursion through user-defined functions: regorus 0.14 does not detect it and
// overflows the stack (a process abort). `PolicySet::build` rejects it.
const RECURSIVE_FN: &str = r#"
package caisson.countdown

import rego.v1

countdown(n) := 0 if n <= 0

countdown(n) := countdown(n - 1) if n > 0

deny contains msg if {
	countdown(3) == 1
	msg := "never"
}
"#;

const MUTUAL: &str = r#"
package caisson.mutual

import rego.v1

is_even(n) if {
	n == 0
}

is_even(n) if {
	n > 0
	is_odd(n - 1)
}

is_odd(n) if {
	n > 0
	data.caisson.mutual.is_even(n - 1)
}

deny contains "odd" if is_odd(count(input.pod.spec.containers))
"#;

const LIB: &str = r#"
package lib.walk

import rego.v1

depth(x) := 1 + max([d | some v in x; d := data.caisson.cross.depth_of(v)]) if is_array(x)

depth(x) := 0 if not is_array(x)
"#;

const CROSS: &str = r#"
package caisson.cross

import rego.v1
import data.lib.walk as w

depth_of(x) := w.depth(x)

deny contains "deep" if depth_of(input.pod.spec.containers) > 10
"#;

// Helpers calling helpers and built-ins (count, sprintf, startswith) are fine.
const NOT_RECURSIVE: &str = r#"
package caisson.helpers

import rego.v1

image_of(c) := c.image

untagged(c) if not contains(image_of(c), ":")

count_untagged(cs) := count([c | some c in cs; untagged(c)])

deny contains msg if {
	n := count_untagged(input.pod.spec.containers)
	n > 0
	msg := sprintf("%d untagged images", [n])
}
"#;

fn build_err(sources: &[(&str, &str)]) -> String {
    let mut b = PolicySet::builder();
    for (path, text) in sources {
        b.rego_source(path, text).unwrap();
    }
    match b.build() {
        Ok(_) => panic!("recursive policy {sources:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn recursive_function_is_a_compile_error_not_a_stack_overflow() {
    let msg = build_err(&[("countdown.rego", RECURSIVE_FN)]);
    assert!(msg.contains("countdown.rego"), "{msg}");
    assert!(
        msg.contains("recursion through functions is not allowed in Rego: data.caisson.countdown.countdown -> data.caisson.countdown.countdown"),
        "{msg}"
    );
    let msg = build_err(&[("mutual.rego", MUTUAL)]);
    assert!(
        msg.contains("data.caisson.mutual.is_even -> data.caisson.mutual.is_odd -> data.caisson.mutual.is_even"),
        "{msg}"
    );
    let msg = build_err(&[("lib.rego", LIB), ("cross.rego", CROSS)]);
    assert!(
        msg.contains(
            "data.caisson.cross.depth_of -> data.lib.walk.depth -> data.caisson.cross.depth_of"
        ),
        "{msg}"
    );
}

#[test]
fn non_recursive_helpers_and_builtins_load() {
    let mut b = PolicySet::builder();
    b.rego_source("helpers.rego", NOT_RECURSIVE).unwrap();
    b.builtin("pss-restricted").unwrap();
    let set = b.build().unwrap();
    let d = set.evaluate(&Request::from_object(pod()), &SupplyChainFacts::default());
    assert!(
        d.denials.iter().all(|v| v.policy != "helpers"),
        "{:?}",
        d.denials
    );
    let mut p = pod();
    p["spec"]["containers"][0]["image"] = json!("nginx");
    let d = set.evaluate(&Request::from_object(p), &SupplyChainFacts::default());
    assert!(
        d.denials
            .iter()
            .any(|v| v.policy == "helpers" && v.message == "1 untagged images"),
        "{:?}",
        d.denials
    );
}
