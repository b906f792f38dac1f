//! Reading manifests: multi-document YAML, JSON, and `kind: List` / `*List` items.

use serde::Deserialize;
use serde_json::Value as Json;

use crate::PolicyError;

/// Bounds on a manifest file before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestLimits {
    pub max_bytes: usize,
    pub max_documents: usize,
}

impl Default for ManifestLimits {
    fn default() -> Self {
        ManifestLimits {
            max_bytes: 64 << 20,
            max_documents: 10_000,
        }
    }
}

fn err(origin: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::Manifest {
        origin: origin.to_string(),
        message: message.into(),
    }
}

/// Parses every object in `bytes`, each with its origin (`file#2`, `file#0.items[3]`).
/// Empty YAML documents are skipped; a `List` contributes its items.
pub fn parse_documents(
    bytes: &[u8],
    origin: &str,
    limits: &ManifestLimits,
) -> Result<Vec<(Json, String)>, PolicyError> {
    if bytes.len() > limits.max_bytes {
        return Err(err(
            origin,
            format!(
                "{} bytes is over the {} byte limit",
                bytes.len(),
                limits.max_bytes
            ),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| err(origin, format!("not UTF-8: {e}")))?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let mut docs = Vec::new();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        // JSON: one value, or a stream of values.
        let stream = serde_json::Deserializer::from_str(trimmed).into_iter::<Json>();
        for (i, v) in stream.enumerate() {
            let v = v.map_err(|e| err(origin, format!("JSON: {e}")))?;
            docs.push((v, format!("{origin}#{i}")));
        }
    } else {
        for (i, de) in serde_norway::Deserializer::from_str(text).enumerate() {
            if i >= limits.max_documents {
                return Err(err(
                    origin,
                    format!("more than {} documents", limits.max_documents),
                ));
            }
            let v = Json::deserialize(de)
                .map_err(|e| err(&format!("{origin}#{i}"), format!("YAML: {e}")))?;
            docs.push((v, format!("{origin}#{i}")));
        }
    }
    let mut out = Vec::new();
    for (v, o) in docs {
        expand(v, o, &mut out, limits)?;
    }
    Ok(out)
}

fn expand(
    v: Json,
    origin: String,
    out: &mut Vec<(Json, String)>,
    limits: &ManifestLimits,
) -> Result<(), PolicyError> {
    if out.len() >= limits.max_documents {
        return Err(err(
            &origin,
            format!("more than {} objects", limits.max_documents),
        ));
    }
    match v {
        Json::Null => Ok(()),
        Json::Array(items) => {
            for (j, item) in items.into_iter().enumerate() {
                expand_leaf(item, format!("{origin}[{j}]"), out)?;
            }
            Ok(())
        }
        Json::Object(_) => {
            let is_list = v
                .get("kind")
                .and_then(Json::as_str)
                .is_some_and(|k| k == "List" || k.ends_with("List"))
                && v.get("items").is_some_and(Json::is_array);
            if is_list {
                let items = match v {
                    Json::Object(mut m) => m.remove("items"),
                    _ => None,
                };
                if let Some(Json::Array(items)) = items {
                    for (j, item) in items.into_iter().enumerate() {
                        expand_leaf(item, format!("{origin}.items[{j}]"), out)?;
                    }
                }
                Ok(())
            } else {
                out.push((v, origin));
                Ok(())
            }
        }
        other => Err(err(
            &origin,
            format!("expected an object, found {}", type_name(&other)),
        )),
    }
}

fn expand_leaf(
    item: Json,
    origin: String,
    out: &mut Vec<(Json, String)>,
) -> Result<(), PolicyError> {
    if item.is_object() {
        out.push((item, origin));
        Ok(())
    } else {
        Err(err(
            &origin,
            format!("expected an object, found {}", type_name(&item)),
        ))
    }
}

fn type_name(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}
