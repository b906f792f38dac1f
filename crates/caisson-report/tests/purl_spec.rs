//! The purl parser against cases from the purl-spec test suite, transcribed
//! into `tests/data/purl-spec-test-suite.json` (see its `_source` field).

use std::collections::BTreeMap;

use caisson_report::parse_purl;
use serde_json::Value;

#[test]
fn purl_spec_test_suite_cases() {
    let text = fs_err::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/purl-spec-test-suite.json"
    ))
    .expect("test data");
    let doc: Value = serde_json::from_str(&text).expect("json");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 40, "the transcription has 40 cases");
    let mut failures = Vec::new();
    for c in cases {
        let desc = c["description"].as_str().unwrap_or_default();
        let purl = c["purl"].as_str().expect("purl");
        let got = parse_purl(purl);
        if c["is_invalid"].as_bool() == Some(true) {
            if let Ok(p) = got {
                failures.push(format!(
                    "{desc}: `{purl}` should be invalid, parsed as {p:?}"
                ));
            }
            continue;
        }
        let p = match got {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{desc}: {e}"));
                continue;
            }
        };
        let want_q: BTreeMap<String, String> = c["qualifiers"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let checks = [
            ("type", Some(p.ty.clone()), c["type"].as_str()),
            ("namespace", p.namespace_path(), c["namespace"].as_str()),
            ("name", Some(p.name.clone()), c["name"].as_str()),
            ("version", p.version.clone(), c["version"].as_str()),
            ("subpath", p.subpath.clone(), c["subpath"].as_str()),
        ];
        for (field, got, want) in checks {
            if got.as_deref() != want {
                failures.push(format!("{desc}: {field} {got:?}, expected {want:?}"));
            }
        }
        if p.qualifiers != want_q {
            failures.push(format!(
                "{desc}: qualifiers {:?}, expected {want_q:?}",
                p.qualifiers
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
