//! Snapshots of every format for the realistic fixtures (`cargo insta review` to update).

mod common;

use caisson_report::{to_string, Format, RenderOptions};

fn render(format: Format, sbom: &caisson_model::Sbom) -> String {
    to_string(format, sbom, &common::opts()).expect("renders")
}

#[test]
fn table_snapshots() {
    for (name, sbom) in common::all() {
        insta::assert_snapshot!(format!("table_{name}"), render(Format::Table, &sbom));
    }
}

#[test]
fn table_with_colour() {
    let opts = RenderOptions {
        color: true,
        ..common::opts()
    };
    let out = to_string(Format::Table, &common::alpine(), &opts).expect("renders");
    insta::assert_snapshot!("table_alpine_colour", out.replace('\x1b', "<ESC>"));
}

#[test]
fn json_snapshots() {
    for (name, sbom) in common::all() {
        insta::assert_snapshot!(format!("json_{name}"), render(Format::Json, &sbom));
    }
}

#[test]
fn cyclonedx_snapshot() {
    insta::assert_snapshot!(
        "cyclonedx_debian",
        render(Format::CycloneDxJson, &common::debian())
    );
}

#[test]
fn spdx_snapshot() {
    insta::assert_snapshot!("spdx_debian", render(Format::SpdxJson, &common::debian()));
}

#[test]
fn native_json_round_trips_to_the_model() {
    for (name, sbom) in common::all() {
        let text = render(Format::Json, &sbom);
        let back: caisson_model::Sbom = serde_json::from_str(&text).expect("parses as Sbom");
        assert_eq!(back, sbom, "{name}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["tool"]["name"], "caisson");
    }
}

#[test]
fn output_is_deterministic() {
    for format in Format::ALL {
        for (name, sbom) in common::all() {
            assert_eq!(
                render(format, &sbom),
                render(format, &sbom),
                "{format} {name}"
            );
        }
    }
}
