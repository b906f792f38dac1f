//! CycloneDX and SPDX output validated against the official JSON schemas
//! (vendored under `tests/schemas/`, see its README), offline.

mod common;

use caisson_report::{to_string, Format};
use jsonschema::Validator;
use serde_json::{json, Value};

/// A named way to break a valid document.
type Mutation = Box<dyn Fn(&mut Value)>;

fn cyclonedx_validator() -> Validator {
    caisson_testsupport::schema::cyclonedx()
}

fn spdx_validator() -> Validator {
    caisson_testsupport::schema::spdx()
}

fn errors(v: &Validator, doc: &Value) -> Vec<String> {
    caisson_testsupport::schema::errors(v, doc)
}

fn render(format: Format, sbom: &caisson_model::Sbom) -> Value {
    let text = to_string(format, sbom, &common::opts()).expect("renders");
    serde_json::from_str(&text).expect("output is JSON")
}

#[test]
fn cyclonedx_output_validates_for_every_fixture() {
    let v = cyclonedx_validator();
    for (name, sbom) in common::all() {
        let doc = render(Format::CycloneDxJson, &sbom);
        let errs = errors(&v, &doc);
        assert!(
            errs.is_empty(),
            "{name}: CycloneDX schema errors: {errs:#?}"
        );
    }
}

#[test]
fn spdx_output_validates_for_every_fixture() {
    let v = spdx_validator();
    for (name, sbom) in common::all() {
        let doc = render(Format::SpdxJson, &sbom);
        let errs = errors(&v, &doc);
        assert!(errs.is_empty(), "{name}: SPDX schema errors: {errs:#?}");
    }
}

/// Each mutation breaks a rule the schema states; if the validator accepted any of
/// them, the positive tests above would prove nothing.
#[test]
fn cyclonedx_validator_rejects_broken_documents() {
    let v = cyclonedx_validator();
    let good = render(Format::CycloneDxJson, &common::debian());
    assert!(v.is_valid(&good));
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "missing bomFormat",
            Box::new(|d| {
                d.as_object_mut().map(|o| o.remove("bomFormat"));
            }),
        ),
        (
            "unknown component type",
            Box::new(|d| d["components"][1]["type"] = json!("lib")),
        ),
        (
            "component without name",
            Box::new(|d| {
                d["components"][1].as_object_mut().map(|o| o.remove("name"));
            }),
        ),
        // Proves the referenced spdx.schema.json is really consulted.
        (
            "unlisted license id",
            Box::new(|d| {
                d["components"][1]["licenses"] = json!([{"license": {"id": "Not-A-License-1.0"}}])
            }),
        ),
        (
            "two expressions",
            Box::new(|d| {
                d["components"][1]["licenses"] =
                    json!([{"expression": "MIT"}, {"expression": "X11"}])
            }),
        ),
        (
            "upper-case serial",
            Box::new(|d| {
                d["serialNumber"] = json!("urn:uuid:3E671687-395B-41F5-A30F-A58921A69B79")
            }),
        ),
        // Proves formats are checked.
        (
            "timestamp not date-time",
            Box::new(|d| d["metadata"]["timestamp"] = json!("yesterday")),
        ),
        (
            "unknown top-level field",
            Box::new(|d| d["caisson"] = json!(true)),
        ),
    ];
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert_ne!(bad, good, "{what}: mutation did nothing");
        assert!(
            !v.is_valid(&bad),
            "{what}: broken document passed validation"
        );
    }
}

#[test]
fn spdx_validator_rejects_broken_documents() {
    let v = spdx_validator();
    let good = render(Format::SpdxJson, &common::debian());
    assert!(v.is_valid(&good));
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "missing creationInfo",
            Box::new(|d| {
                d.as_object_mut().map(|o| o.remove("creationInfo"));
            }),
        ),
        (
            "package without SPDXID",
            Box::new(|d| {
                d["packages"][1].as_object_mut().map(|o| o.remove("SPDXID"));
            }),
        ),
        (
            "package without downloadLocation",
            Box::new(|d| {
                d["packages"][2]
                    .as_object_mut()
                    .map(|o| o.remove("downloadLocation"));
            }),
        ),
        (
            "SPDX 2.2-style reference category",
            Box::new(|d| {
                d["packages"][2]["externalRefs"][0]["referenceCategory"] = json!("PACKAGE_MANAGER")
            }),
        ),
        (
            "unknown relationship type",
            Box::new(|d| d["relationships"][0]["relationshipType"] = json!("HAS")),
        ),
        (
            "unknown package purpose",
            Box::new(|d| d["packages"][0]["primaryPackagePurpose"] = json!("IMAGE")),
        ),
        (
            "filesAnalyzed as string",
            Box::new(|d| d["packages"][1]["filesAnalyzed"] = json!("false")),
        ),
    ];
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert_ne!(bad, good, "{what}: mutation did nothing");
        assert!(
            !v.is_valid(&bad),
            "{what}: broken document passed validation"
        );
    }
}
