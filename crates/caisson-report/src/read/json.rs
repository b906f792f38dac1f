//! Typed access to a parsed JSON document, with errors that say where in the
//! document the wrong type was met (`components[3].purl`).

use std::fmt;

use serde_json::{Map, Value};

use super::ReadError;

/// A location in the document, built on the stack and rendered only on error.
#[derive(Clone, Copy)]
pub(crate) enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl<'a> At<'a> {
    pub(crate) fn key(&'a self, k: &'a str) -> At<'a> {
        At::Key(self, k)
    }
    pub(crate) fn index(&'a self, i: usize) -> At<'a> {
        At::Index(self, i)
    }
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Root => f.write_str("(top level)"),
            At::Key(At::Root, k) => f.write_str(k),
            At::Key(p, k) => write!(f, "{p}.{k}"),
            At::Index(p, i) => write!(f, "{p}[{i}]"),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Field accessors for one format; `null` counts as absent.
#[derive(Clone, Copy)]
pub(crate) struct Doc {
    pub(crate) format: &'static str,
}

impl Doc {
    pub(crate) fn wrong(&self, at: &At<'_>, expected: &'static str, v: &Value) -> ReadError {
        ReadError::WrongType {
            format: self.format,
            path: at.to_string(),
            expected,
            found: kind(v),
        }
    }

    pub(crate) fn obj<'v>(
        &self,
        v: &'v Value,
        at: &At<'_>,
    ) -> Result<&'v Map<String, Value>, ReadError> {
        v.as_object().ok_or_else(|| self.wrong(at, "an object", v))
    }

    pub(crate) fn opt_str<'v>(
        &self,
        m: &'v Map<String, Value>,
        key: &str,
        at: &At<'_>,
    ) -> Result<Option<&'v str>, ReadError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.wrong(&at.key(key), "a string", v)),
        }
    }

    pub(crate) fn opt_obj<'v>(
        &self,
        m: &'v Map<String, Value>,
        key: &str,
        at: &At<'_>,
    ) -> Result<Option<&'v Map<String, Value>>, ReadError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(v) => Err(self.wrong(&at.key(key), "an object", v)),
        }
    }

    /// An array field; absent gives an empty slice.
    pub(crate) fn arr<'v>(
        &self,
        m: &'v Map<String, Value>,
        key: &str,
        at: &At<'_>,
    ) -> Result<&'v [Value], ReadError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(v) => Err(self.wrong(&at.key(key), "an array", v)),
        }
    }

    /// `[{ "name": …, "value": … }]` as pairs; entries without a value are skipped.
    pub(crate) fn properties<'v>(
        &self,
        m: &'v Map<String, Value>,
        at: &At<'_>,
    ) -> Result<Vec<(&'v str, &'v str)>, ReadError> {
        let list = self.arr(m, "properties", at)?;
        let at = at.key("properties");
        let mut out = Vec::new();
        for (i, p) in list.iter().enumerate() {
            let at = at.index(i);
            let o = self.obj(p, &at)?;
            if let (Some(n), Some(v)) = (
                self.opt_str(o, "name", &at)?,
                self.opt_str(o, "value", &at)?,
            ) {
                out.push((n, v));
            }
        }
        Ok(out)
    }
}
