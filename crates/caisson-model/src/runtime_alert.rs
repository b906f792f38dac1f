//! The alert batch `caisson sensor run --server` sends to `caisson serve`
//! (`POST /api/v1/alerts`): a JSON array of the sensor's alerts
//! (docs/runtime.md), each with an `id` the sensor assigns
//! (`<sensor instance>-<sequence>`) so a re-delivered batch is recognised.
//!
//! The server receives it from the network, so [`parse_batch`] treats it as
//! untrusted: the body and the batch are bounded, unknown fields are
//! refused, identifiers have fixed alphabets, and the first problem found is
//! returned with the path of the field (`[3].container.id`). Text that comes
//! from inside a container (command lines, paths, names) is only bounded in
//! length, never refused for its content: an attacker must not be able to
//! make the sensor's batch (and with it other alerts) unacceptable. The
//! sensor trims its alerts to these bounds with [`RuntimeAlert::fit`].
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use serde::{Deserialize, Serialize};

use crate::host_report::ReportError;
use crate::Severity;

/// Largest batch body the server reads, in bytes.
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// Most alerts in one batch.
pub const MAX_BATCH_ALERTS: usize = 500;
/// Longest identifier (alert id, rule, host, container id).
pub const MAX_ID: usize = 128;
/// Longest short string (names, images, MITRE ids).
pub const MAX_SHORT: usize = 512;
/// Longest long string (command lines, executable paths).
pub const MAX_LONG: usize = 4096;
/// Most MITRE technique ids per alert.
pub const MAX_MITRE: usize = 16;
/// Most ancestors per process.
pub const MAX_ANCESTORS: usize = 32;
/// Largest `evidence` object, serialised, in bytes.
pub const MAX_EVIDENCE_BYTES: usize = 16 << 10;

/// One alert as the sensor sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeAlert {
    /// Unique per alert, assigned by the sensor: 1-128 of `[A-Za-z0-9._:-]`.
    pub id: String,
    /// RFC 3339, UTC (`2026-12-07T01:52:34Z`, fractions allowed).
    pub time: String,
    pub rule: String,
    pub severity: Severity,
    #[serde(default)]
    pub mitre: Vec<String>,
    pub host: String,
    #[serde(default)]
    pub container: Option<AlertContainer>,
    #[serde(default)]
    pub process: Option<AlertProcess>,
    /// What the rule saw (an object; its shape depends on the event).
    #[serde(default)]
    pub evidence: serde_json::Value,
    /// Alerts of the same rule and container the sensor suppressed since
    /// the previous one it sent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertContainer {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub image_digest: Option<String>,
    #[serde(default)]
    pub pod: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertProcess {
    pub pid: u32,
    #[serde(default)]
    pub exe: Option<String>,
    #[serde(default)]
    pub cmdline: String,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub tty: Option<u32>,
    #[serde(default)]
    pub ancestors: Vec<AlertAncestor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertAncestor {
    pub pid: u32,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> ReportError {
    ReportError {
        field: field.into(),
        message: message.into(),
    }
}

/// Parses and validates a batch body.
pub fn parse_batch(body: &[u8]) -> Result<Vec<RuntimeAlert>, ReportError> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(err(
            "",
            format!("body is over the {MAX_BATCH_BYTES}-byte limit"),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    let batch: Vec<RuntimeAlert> = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        err(field, inner.to_string())
    })?;
    validate_batch(&batch)?;
    Ok(batch)
}

/// Checks the batch's bounds and each alert; ids must be unique in it.
pub fn validate_batch(batch: &[RuntimeAlert]) -> Result<(), ReportError> {
    if batch.is_empty() {
        return Err(err("", "the batch is empty"));
    }
    if batch.len() > MAX_BATCH_ALERTS {
        return Err(err(
            "",
            format!("more than {MAX_BATCH_ALERTS} alerts in one batch"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, a) in batch.iter().enumerate() {
        validate(a).map_err(|e| err(format!("[{i}].{}", e.field), e.message))?;
        if !seen.insert(a.id.as_str()) {
            return Err(err(format!("[{i}].id"), "listed twice in the batch"));
        }
    }
    Ok(())
}

/// 1-128 of `[A-Za-z0-9._:-]`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn bounded(field: &str, v: &str, max: usize) -> Result<(), ReportError> {
    if v.len() > max {
        return Err(err(field, format!("longer than {max} bytes")));
    }
    Ok(())
}

fn ident(field: &str, v: &str) -> Result<(), ReportError> {
    if valid_id(v) {
        Ok(())
    } else {
        Err(err(field, "must be 1-128 of [A-Za-z0-9._:-]"))
    }
}

/// Checks one alert's bounds and alphabets (field paths relative to it).
pub fn validate(a: &RuntimeAlert) -> Result<(), ReportError> {
    ident("id", &a.id)?;
    if rfc3339_ms(&a.time).is_none() {
        return Err(err(
            "time",
            "must be an RFC 3339 UTC time such as 2026-12-07T01:52:34Z",
        ));
    }
    ident("rule", &a.rule)?;
    if a.mitre.len() > MAX_MITRE {
        return Err(err("mitre", format!("more than {MAX_MITRE} entries")));
    }
    for (i, m) in a.mitre.iter().enumerate() {
        bounded(&format!("mitre[{i}]"), m, MAX_SHORT)?;
    }
    if a.host.is_empty() {
        return Err(err("host", "must not be empty"));
    }
    bounded("host", &a.host, MAX_SHORT)?;
    if let Some(c) = &a.container {
        ident("container.id", &c.id)?;
        for (f, v) in [
            ("container.name", &c.name),
            ("container.image", &c.image),
            ("container.image_digest", &c.image_digest),
            ("container.pod", &c.pod),
            ("container.namespace", &c.namespace),
        ] {
            if let Some(v) = v {
                bounded(f, v, MAX_SHORT)?;
            }
        }
    }
    if let Some(p) = &a.process {
        if let Some(e) = &p.exe {
            bounded("process.exe", e, MAX_LONG)?;
        }
        bounded("process.cmdline", &p.cmdline, MAX_LONG)?;
        if p.ancestors.len() > MAX_ANCESTORS {
            return Err(err(
                "process.ancestors",
                format!("more than {MAX_ANCESTORS} entries"),
            ));
        }
        for (i, an) in p.ancestors.iter().enumerate() {
            bounded(&format!("process.ancestors[{i}].name"), &an.name, MAX_SHORT)?;
            if let Some(e) = &an.exe {
                bounded(&format!("process.ancestors[{i}].exe"), e, MAX_LONG)?;
            }
        }
    }
    if !(a.evidence.is_object() || a.evidence.is_null()) {
        return Err(err("evidence", "must be an object"));
    }
    let size = serde_json::to_vec(&a.evidence).map_or(usize::MAX, |v| v.len());
    if size > MAX_EVIDENCE_BYTES {
        return Err(err(
            "evidence",
            format!("larger than {MAX_EVIDENCE_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while end > 0 && !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

impl RuntimeAlert {
    /// Trims what came from inside the container to the bounds
    /// [`validate`] checks (the sensor calls it before queueing), so an
    /// alert about a hostile process is never refused for its size.
    pub fn fit(&mut self) {
        self.mitre.truncate(MAX_MITRE);
        for m in &mut self.mitre {
            cut(m, MAX_SHORT);
        }
        cut(&mut self.host, MAX_SHORT);
        if let Some(c) = &mut self.container {
            for v in [
                &mut c.name,
                &mut c.image,
                &mut c.image_digest,
                &mut c.pod,
                &mut c.namespace,
            ]
            .into_iter()
            .flatten()
            {
                cut(v, MAX_SHORT);
            }
        }
        if let Some(p) = &mut self.process {
            if let Some(e) = &mut p.exe {
                cut(e, MAX_LONG);
            }
            cut(&mut p.cmdline, MAX_LONG);
            p.ancestors.truncate(MAX_ANCESTORS);
            for an in &mut p.ancestors {
                cut(&mut an.name, MAX_SHORT);
                if let Some(e) = &mut an.exe {
                    cut(e, MAX_LONG);
                }
            }
        }
        let size = serde_json::to_vec(&self.evidence).map_or(usize::MAX, |v| v.len());
        if size > MAX_EVIDENCE_BYTES || !(self.evidence.is_object() || self.evidence.is_null()) {
            self.evidence = serde_json::json!({"truncated": true, "bytes": size});
        }
    }

    /// [`Self::time`] as Unix milliseconds.
    pub fn time_ms(&self) -> Option<i64> {
        rfc3339_ms(&self.time)
    }
}

fn digits(s: &str, from: usize, len: usize) -> Option<i64> {
    let part = s.get(from..from + len)?;
    if part.bytes().all(|b| b.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC only) to Unix
/// milliseconds; `None` for anything else or a time before 1970.
pub fn rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if s.len() < 20 || s.len() > 40 || !s.ends_with('Z') {
        return None;
    }
    for (i, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        if b.get(i) != Some(&c) {
            return None;
        }
    }
    let (y, mo, d) = (digits(s, 0, 4)?, digits(s, 5, 2)?, digits(s, 8, 2)?);
    let (h, mi, sec) = (digits(s, 11, 2)?, digits(s, 14, 2)?, digits(s, 17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let frac = s.get(19..s.len() - 1)?;
    let ms = match frac.strip_prefix('.') {
        None if frac.is_empty() => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()) => {
            let mut three: String = f.chars().take(3).collect();
            while three.len() < 3 {
                three.push('0');
            }
            three.parse::<i64>().ok()?
        }
        _ => return None,
    };
    // Howard Hinnant's days-from-civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let t = ((days * 24 + h) * 60 + mi) * 60 + sec;
    (t >= 0).then_some(t * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> serde_json::Value {
        serde_json::json!([{
            "id": "3f2a-000000000001", "time": "2026-12-07T01:52:34Z",
            "rule": "terminal-shell", "severity": "HIGH", "mitre": ["T1059"],
            "host": "node1",
            "container": {"id": "a".repeat(64), "name": "web", "image": "nginx:1",
                "image_digest": null, "pod": null, "namespace": null},
            "process": {"pid": 42, "exe": "/bin/sh", "cmdline": "sh -i\u{7}", "uid": 0, "tty": 34816,
                "ancestors": [{"pid": 1, "name": "containerd-shim"}]},
            "evidence": {"event": "exec", "name": "sh"}
        }])
    }

    fn refused(v: serde_json::Value) -> ReportError {
        parse_batch(&serde_json::to_vec(&v).unwrap_or_default()).expect_err("refused")
    }

    #[test]
    fn a_good_batch_parses_and_round_trips() {
        let b = parse_batch(&serde_json::to_vec(&good()).unwrap_or_default()).expect("parses");
        assert_eq!(b[0].severity, Severity::High);
        assert_eq!(b[0].time_ms(), Some(1_796_608_354_000));
        let again = serde_json::to_vec(&b).expect("json");
        assert_eq!(parse_batch(&again).expect("parses"), b);
    }

    #[test]
    fn bad_fields_are_named() {
        let mut v = good();
        v[0]["container"]["id"] = "a b".into();
        assert_eq!(refused(v).field, "[0].container.id");
        let mut v = good();
        v[0]["severity"] = "SEVERE".into();
        assert_eq!(refused(v).field, "[0].severity");
        let mut v = good();
        v[0]["time"] = "yesterday".into();
        assert_eq!(refused(v).field, "[0].time");
        let mut v = good();
        v[0]["process"]["cmdline"] = "x".repeat(MAX_LONG + 1).into();
        assert_eq!(refused(v).field, "[0].process.cmdline");
        let mut v = good();
        v[0]["surprise"] = 1.into();
        assert!(refused(v).message.contains("surprise"));
        let mut v = good();
        let a = v[0].clone();
        v = serde_json::Value::Array(vec![a.clone(), a]);
        assert_eq!(refused(v).field, "[1].id");
        assert_eq!(refused(serde_json::json!([])).field, "");
        assert!(parse_batch(&vec![b' '; MAX_BATCH_BYTES + 1])
            .expect_err("too large")
            .message
            .contains("limit"));
    }

    #[test]
    fn fit_brings_hostile_text_within_the_bounds() {
        let mut b = parse_batch(&serde_json::to_vec(&good()).unwrap_or_default()).expect("parses");
        let mut a = b.remove(0);
        if let Some(p) = &mut a.process {
            p.cmdline = "é".repeat(MAX_LONG);
            p.ancestors = vec![p.ancestors[0].clone(); MAX_ANCESTORS + 5];
        }
        a.evidence = serde_json::json!({"blob": "x".repeat(MAX_EVIDENCE_BYTES)});
        assert!(validate(&a).is_err());
        a.fit();
        assert!(validate(&a).is_ok(), "{:?}", validate(&a));
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(rfc3339_ms("1970-01-01T00:00:01.25Z"), Some(1250));
        assert_eq!(rfc3339_ms("2000-03-01T00:00:00Z"), Some(951_868_800_000));
        for bad in [
            "",
            "1970-01-01T00:00:01",
            "1970-01-01 00:00:01Z",
            "1970-13-01T00:00:01Z",
            "1970-01-01T00:00:01.Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:01+01:00",
        ] {
            assert_eq!(rfc3339_ms(bad), None, "{bad}");
        }
    }
}
