//! Shared test helpers: policy sets by (policy, version), path setters.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use caisson_policy::{Config, Decision, PolicySet, Request, SupplyChainFacts};
use serde_json::{json, Value as Json};

/// A policy set of one built-in with its parameters given as YAML (`{version: v1.30}`).
pub fn set_with(id: &str, params_yaml: &str) -> PolicySet {
    static CACHE: Mutex<Option<HashMap<(String, String), PolicySet>>> = Mutex::new(None);
    let key = (id.to_string(), params_yaml.to_string());
    let mut guard = CACHE.lock().unwrap();
    let cache = guard.get_or_insert_with(HashMap::new);
    if let Some(s) = cache.get(&key) {
        return s.clone();
    }
    let mut b = PolicySet::builder();
    b.builtin(id).unwrap();
    if !params_yaml.is_empty() {
        let cfg = Config::parse(
            &format!("policies:\n  {id}:\n    parameters: {params_yaml}\n"),
            "test",
        )
        .unwrap();
        b.config(cfg, "test");
    }
    let set = b.build().unwrap();
    cache.insert(key, set.clone());
    set
}

pub fn eval(set: &PolicySet, object: &Json) -> Decision {
    set.evaluate(
        &Request::from_object(object.clone()),
        &SupplyChainFacts::default(),
    )
}

pub fn minimal_pod(restricted: bool) -> Json {
    let sc = || json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}});
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "test-pod", "namespace": "default"},
        "spec": {
            "initContainers": [{"name": "initcontainer1", "image": "registry.k8s.io/pause:3.10"}],
            "containers": [{"name": "container1", "image": "registry.k8s.io/pause:3.10"}],
        }
    });
    if restricted {
        pod["spec"]["securityContext"] =
            json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
        pod["spec"]["initContainers"][0]["securityContext"] = sc();
        pod["spec"]["containers"][0]["securityContext"] = sc();
    }
    pod
}

/// Sets `a.b[0].c` in `v`, creating objects on the way; `null` removes the field.
pub fn set_path(v: &mut Json, path: &str, value: Json) {
    let segments: Vec<&str> = path.split('.').collect();
    let mut cur = v;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let (key, index) = match seg.split_once('[') {
            Some((k, rest)) => (
                k,
                Some(rest.trim_end_matches(']').parse::<usize>().unwrap()),
            ),
            None => (*seg, None),
        };
        if !cur.is_object() {
            *cur = json!({});
        }
        let map = cur.as_object_mut().unwrap();
        match index {
            None if last => {
                if value.is_null() {
                    map.remove(key);
                } else {
                    map.insert(key.to_string(), value);
                }
                return;
            }
            None => cur = map.entry(key.to_string()).or_insert(json!({})),
            Some(idx) => {
                let arr = map.entry(key.to_string()).or_insert(json!([]));
                let a = arr.as_array_mut().unwrap();
                while a.len() <= idx {
                    a.push(json!({}));
                }
                if last {
                    a[idx] = value;
                    return;
                }
                cur = &mut a[idx];
            }
        }
    }
}

pub fn checks(d: &Decision) -> Vec<String> {
    d.denials.iter().filter_map(|v| v.check.clone()).collect()
}
