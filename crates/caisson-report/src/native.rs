//! Caisson's own JSON: the model as serde writes it, plus a format version and
//! the tool that wrote it. Documented in `docs/formats/caisson-json.md`.

use caisson_model::Sbom;
use serde::Serialize;

use crate::{RenderOptions, TOOL_NAME};

/// Version of Caisson's JSON format. Bumped only on incompatible changes;
/// new optional fields do not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// Field names are snake_case like the model's own.
#[derive(Serialize)]
pub(crate) struct Document<'a> {
    schema_version: u32,
    tool: Tool<'a>,
    created: &'a str,
    #[serde(flatten)]
    sbom: &'a Sbom,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'static str,
    version: &'a str,
}

pub(crate) fn document<'a>(sbom: &'a Sbom, opts: &'a RenderOptions) -> Document<'a> {
    Document {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: TOOL_NAME,
            version: &opts.tool_version,
        },
        created: &opts.timestamp,
        sbom,
    }
}
