//! Caisson JSON: the model as serde wrote it, so reading it back is exact.

use caisson_model::{Sbom, Warning};
use serde_json::Value;

use super::{ReadError, MAX_COMPONENTS};
use crate::SCHEMA_VERSION;

pub(crate) fn read(mut value: Value) -> Result<(Sbom, Vec<Warning>), ReadError> {
    let Value::Object(top) = &mut value else {
        return Err(ReadError::NotAnSbom(
            "the top level is not a JSON object".into(),
        ));
    };
    match top.get("schema_version") {
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
        Some(other) => {
            return Err(ReadError::SchemaVersion {
                found: other.to_string(),
                supported: SCHEMA_VERSION,
            })
        }
        None => return Err(ReadError::NotAnSbom("no schema_version".into())),
    }
    if let Some(Value::Array(p)) = top.get("packages") {
        if p.len() > MAX_COMPONENTS {
            return Err(ReadError::TooMany {
                format: "Caisson JSON",
                what: "packages",
                limit: MAX_COMPONENTS,
            });
        }
    }
    // The envelope fields are not part of the model.
    for k in ["schema_version", "tool", "created"] {
        top.remove(k);
    }
    let sbom: Sbom = serde_path_to_error::deserialize(value).map_err(|e| ReadError::Invalid {
        format: "Caisson JSON",
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })?;
    Ok((sbom, Vec::new()))
}
