//! Validators for the official JSON schemas vendored under `schemas/` at the
//! workspace root (see its README for provenance). Offline, formats checked.

use jsonschema::{Registry, Validator};
use serde_json::Value;

fn load(rel: &str) -> Value {
    let path = format!("{}/../../schemas/{rel}", env!("CARGO_MANIFEST_DIR"));
    let text = fs_err::read_to_string(&path).expect("vendored schema is readable");
    serde_json::from_str(&text).expect("vendored schema is JSON")
}

/// CycloneDX 1.6 (`bom-1.6.schema.json` with its `spdx` and `jsf` references).
pub fn cyclonedx() -> Validator {
    let registry = Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.schema.json",
            load("cyclonedx-1.6/spdx.schema.json"),
        )
        .expect("spdx.schema.json registers")
        .add(
            "http://cyclonedx.org/schema/jsf-0.82.schema.json",
            load("cyclonedx-1.6/jsf-0.82.schema.json"),
        )
        .expect("jsf schema registers")
        .prepare()
        .expect("registry prepares");
    jsonschema::options()
        .offline()
        .with_registry(&registry)
        .should_validate_formats(true)
        .build(&load("cyclonedx-1.6/bom-1.6.schema.json"))
        .expect("CycloneDX 1.6 schema compiles")
}

/// SPDX 2.3 (`spdx-schema.json`).
pub fn spdx() -> Validator {
    jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .build(&load("spdx-2.3/spdx-schema.json"))
        .expect("SPDX 2.3 schema compiles")
}

/// SARIF 2.1.0 (`sarif-schema-2.1.0.json`, OASIS errata 01; draft-04).
pub fn sarif() -> Validator {
    jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .build(&load("sarif-2.1.0/sarif-schema-2.1.0.json"))
        .expect("SARIF 2.1.0 schema compiles")
}

/// Every validation error, with the JSON pointer where it occurred.
pub fn errors(v: &Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
