//! `caisson host agent`: watches the engine and reports the host's
//! containers and benchmark result to a Caisson server.
//!
//! Three threads, none of which can block another:
//!
//! - the **event watcher** follows the engine's `/events` (container
//!   start/die/destroy, image pull/delete) on its own connection and
//!   reconnects with backoff when the stream ends; each relevant event (and
//!   each reconnect, as events may have been missed) is a trigger, coalesced
//!   in a channel of one;
//! - the **collector** (the calling thread) builds a report on start, on
//!   each trigger (after a short debounce that absorbs bursts) and at every
//!   interval, and writes it to the [`queue::Queue`] on disk;
//! - the **sender** sends queued reports oldest first, removing each only
//!   once the server stored it (or already had it: the server ignores a
//!   `seq` it has), retrying with capped backoff while the server is down.
//!
//! An engine or server that does not answer only delays reports: every
//! request has a deadline, failures are logged and retried, and the queue
//! is bounded. Nothing is kept in memory between reports.

pub mod queue;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::models::EventMessageTypeEnum;
use caisson_model::host_report::{
    AgentFacts, EngineFacts, HostFacts, HostReport, ReportedBench, ReportedContainer, FORMAT,
    FORMAT_VERSION,
};

use crate::engine::{Endpoint, Engine};
use crate::error::HostError;
use queue::Queue;

/// Messages for the operator (stderr in the CLI).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// Builds the benchmark part of a report (the CLI runs `caisson_cis`).
pub type Bench = Box<dyn FnMut(&Engine) -> Result<ReportedBench, String> + Send>;

/// How the agent runs.
pub struct Options {
    /// Report URL: `<server>/api/v1/hosts/<id>/report` is derived from it.
    pub server: String,
    pub user: String,
    pub password: String,
    /// Extra CA certificate (PEM) for the server.
    pub server_ca: Option<Vec<u8>>,
    pub endpoint: Endpoint,
    pub interval: Duration,
    /// Quiet time after an event before the report is built.
    pub debounce: Duration,
    /// `--host-id`; default: the engine's daemon id.
    pub host_id: Option<String>,
    pub queue: Queue,
    pub version: String,
    pub log: Log,
}

/// Parses `90s`, `10m`, `1h`, `600` (seconds).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (s.get(..i).unwrap_or(""), s.get(i..).unwrap_or("")),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 30s, 10m or 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{s:?}: the unit must be s, m or h")),
    };
    if secs == 0 || secs > 7 * 86_400 {
        return Err(format!("{s:?}: must be between 1s and 7 days"));
    }
    Ok(Duration::from_secs(secs))
}

/// The events that change what a report says.
pub fn relevant(typ: Option<EventMessageTypeEnum>, action: Option<&str>) -> bool {
    match (typ, action) {
        (Some(EventMessageTypeEnum::CONTAINER), Some(a)) => {
            matches!(a, "start" | "die" | "destroy" | "create" | "stop" | "kill")
        }
        (Some(EventMessageTypeEnum::IMAGE), Some(a)) => {
            matches!(a, "pull" | "delete" | "tag" | "untag" | "load")
        }
        _ => false,
    }
}

/// A host id from the engine's daemon id: `[A-Za-z0-9._:-]` only.
pub fn host_id_from(daemon_id: &str, hostname: &str) -> String {
    let clean: String = daemon_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
        .take(128)
        .collect();
    if clean.is_empty() {
        hostname
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(128)
            .collect()
    } else {
        clean
    }
}

/// The containers part of a report: every container with its start time
/// (one container inspect each: the list does not carry it), each image's
/// repo digests (one image inspect per image id). A container removed
/// between the list and its inspect is left out: its `destroy` event
/// brings the next report.
pub fn collect_containers(engine: &Engine) -> Result<Vec<ReportedContainer>, HostError> {
    let mut digests: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut out = Vec::new();
    for c in engine.containers(true)? {
        let (Some(id), Some(image_id)) = (c.id, c.image_id) else {
            continue;
        };
        let started_at = match engine.inspect(&id) {
            Ok(inspect) => crate::inventory::model::started_at(
                inspect.state.as_ref().and_then(|s| s.started_at.as_deref()),
            ),
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        let image_id = if image_id.starts_with("sha256:") {
            image_id
        } else {
            format!("sha256:{image_id}")
        };
        let repo_digests = match digests.get(&image_id) {
            Some(d) => d.clone(),
            None => {
                let d = match engine.image_inspect(&image_id) {
                    Ok(i) => i.repo_digests.unwrap_or_default(),
                    // Removed meanwhile: the next event brings a new report.
                    Err(e) if e.is_not_found() => Vec::new(),
                    Err(e) => return Err(e),
                };
                digests.insert(image_id.clone(), d.clone());
                d
            }
        };
        let name = c
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| id.clone());
        out.push(ReportedContainer {
            name,
            image: c.image.unwrap_or_else(|| image_id.clone()),
            image_id,
            repo_digests: repo_digests
                .into_iter()
                .filter(|d| caisson_model::host_report::split_repo_digest(d).is_some())
                .take(caisson_model::host_report::MAX_REPO_DIGESTS)
                .collect(),
            state: c
                .state
                .map(|s| s.to_string().to_ascii_lowercase())
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase()))
                .unwrap_or_else(|| "unknown".into()),
            started_at,
            id,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(out)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Builds one report from the engine.
fn build(
    engine: &Engine,
    opts: &Options,
    bench: &mut Bench,
    reason: &str,
    seq: i64,
) -> Result<HostReport, HostError> {
    let info = engine.info()?;
    let version = engine.version()?;
    let hostname = info
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let id = opts
        .host_id
        .clone()
        .unwrap_or_else(|| host_id_from(info.id.as_deref().unwrap_or(""), &hostname));
    let containers = collect_containers(engine)?;
    let bench = match bench(engine) {
        Ok(b) => Some(b),
        Err(e) => {
            (opts.log)(&format!("warning: benchmark not run: {e}"));
            None
        }
    };
    Ok(HostReport {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        host: HostFacts {
            id,
            hostname,
            engine: EngineFacts {
                kind: match engine.kind() {
                    crate::EngineKind::Docker => "docker".into(),
                    crate::EngineKind::Podman => "podman".into(),
                },
                version: version.version,
                api_version: Some(engine.api_version().to_string()),
                os: info.operating_system,
                arch: info.architecture,
            },
        },
        agent: AgentFacts {
            version: opts.version.clone(),
            interval_secs: opts.interval.as_secs().max(1),
        },
        seq,
        generated_ms: now_ms(),
        reason: reason.into(),
        containers,
        bench,
    })
}

/// Follows the engine's events until `stop`, sending a trigger for each
/// relevant one; reconnects with backoff (1 s doubling to 30 s).
fn watch_events(endpoint: Endpoint, tx: SyncSender<()>, stop: Arc<AtomicBool>, log: Log) {
    let mut backoff = Duration::from_secs(1);
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        match Engine::connect_to(endpoint.clone()) {
            Ok(engine) => {
                if !first {
                    // Events may have been missed while disconnected.
                    let _ = tx.try_send(());
                }
                first = false;
                for ev in engine.events() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match ev {
                        Ok(ev) => {
                            backoff = Duration::from_secs(1);
                            if relevant(ev.typ, ev.action.as_deref()) {
                                match tx.try_send(()) {
                                    Ok(()) | Err(TrySendError::Full(())) => {}
                                    Err(TrySendError::Disconnected(())) => return,
                                }
                            }
                        }
                        Err(e) => {
                            log(&format!("warning: engine events: {e}; reconnecting"));
                            break;
                        }
                    }
                }
            }
            Err(e) => log(&format!(
                "warning: engine events: {e}; retrying in {backoff:?}"
            )),
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// What one delivery attempt concluded.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Stored, or already stored: remove it from the queue.
    Done,
    /// The server will never take it (400, 413): set it aside.
    Rejected(String),
    /// Try again later (server down, 5xx, 429, 401/403 until fixed).
    Retry(String),
}

/// Classifies the server's answer to a report.
pub fn classify(status: u16, body: &str) -> Delivery {
    match status {
        200..=299 => Delivery::Done,
        400 | 413 | 422 => Delivery::Rejected(format!("HTTP {status}: {}", message(body))),
        _ => Delivery::Retry(format!("HTTP {status}: {}", message(body))),
    }
}

fn message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/errors/0/message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// The host agent's target: `PUT <server>/api/v1/hosts/<host.id>/report`.
fn report_url(server: &str, body: &[u8]) -> String {
    let host = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/host/id")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    format!(
        "{}/api/v1/hosts/{host}/report",
        server.trim_end_matches('/')
    )
}

/// The sender: delivers queued bodies oldest first until `stop`, each
/// removed only once the server stored it (or already had it), retrying
/// with capped backoff. The host agent sends reports with it, the runtime
/// sensor alert batches (`caisson sensor run --server`).
pub fn send_loop(
    opts: Arc<SendOptions>,
    queue: Queue,
    wake: Receiver<()>,
    stop: Arc<AtomicBool>,
    log: Log,
) {
    let mut backoff = Duration::from_millis(500);
    while !stop.load(Ordering::Relaxed) {
        let next = match queue.oldest() {
            Ok(n) => n,
            Err(e) => {
                log(&format!("error: {e}"));
                std::thread::sleep(Duration::from_secs(5));
                continue;
            }
        };
        let Some((seq, body)) = next else {
            let _ = wake.recv_timeout(Duration::from_secs(30));
            continue;
        };
        let url = (opts.url)(&opts.server, &body);
        let what = opts.what;
        let outcome = opts
            .client
            .request(opts.method.clone(), &url)
            .basic_auth(&opts.user, Some(&opts.password))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .map(|r| {
                let status = r.status().as_u16();
                classify(status, &r.text().unwrap_or_default())
            })
            .unwrap_or_else(|e| Delivery::Retry(crate::error::error_chain(&e)));
        match outcome {
            Delivery::Done => {
                backoff = Duration::from_millis(500);
                if let Err(e) = queue.remove(seq) {
                    log(&format!("error: {e}"));
                }
                log(&format!("sent {what} {seq}"));
            }
            Delivery::Rejected(why) => {
                let kept = queue
                    .reject(seq)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|e| e.to_string());
                log(&format!(
                    "error: the server refused {what} {seq} ({why}); kept in {kept}"
                ));
            }
            Delivery::Retry(why) => {
                log(&format!(
                    "warning: {what} {seq} not delivered to {url}: {why}; retrying in {backoff:?}"
                ));
                // Woken early only by stop; new reports wait their turn.
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(opts.max_backoff);
            }
        }
    }
}

/// Where and how [`send_loop`] delivers.
pub struct SendOptions {
    pub server: String,
    pub user: String,
    pub password: String,
    /// From [`http_client`]: every request has a deadline.
    pub client: reqwest::blocking::Client,
    pub max_backoff: Duration,
    pub method: reqwest::Method,
    /// The URL of one queued body, from the server base URL and the body.
    pub url: fn(&str, &[u8]) -> String,
    /// What a queued body is, for the log (`report`, `alert batch`).
    pub what: &'static str,
}

/// Deadline of each report or alert batch sent to the server.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP client for the Caisson server: 10 s to connect, `timeout` per
/// request, and the extra CA certificate (PEM) when given.
pub fn http_client(
    server: &str,
    server_ca: Option<&[u8]>,
    timeout: Duration,
) -> Result<reqwest::blocking::Client, HostError> {
    let mut client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10));
    if let Some(pem) = server_ca {
        let cert = reqwest::Certificate::from_pem(pem).map_err(|e| HostError::Unreachable {
            endpoint: server.to_string(),
            reason: format!("--server-ca: {e}"),
        })?;
        client = client.add_root_certificate(cert);
    }
    client.build().map_err(|e| HostError::Unreachable {
        endpoint: server.to_string(),
        reason: e.to_string(),
    })
}

/// Runs the agent until `stop` is set (the CLI: until killed).
pub fn run(opts: Options, mut bench: Bench, stop: Arc<AtomicBool>) -> Result<(), HostError> {
    let client = http_client(&opts.server, opts.server_ca.as_deref(), SEND_TIMEOUT)?;
    let send_opts = Arc::new(SendOptions {
        server: opts.server.clone(),
        user: opts.user.clone(),
        password: opts.password.clone(),
        client,
        max_backoff: opts.interval.min(Duration::from_secs(30)),
        method: reqwest::Method::PUT,
        url: report_url,
        what: "report",
    });
    let (wake_tx, wake_rx) = sync_channel::<()>(1);
    let (ev_tx, ev_rx) = sync_channel::<()>(1);
    let sender = {
        let (q, stop, log) = (opts.queue.clone(), stop.clone(), opts.log.clone());
        std::thread::Builder::new()
            .name("agent-send".into())
            .spawn(move || send_loop(send_opts, q, wake_rx, stop, log))
            .map_err(HostError::Runtime)?
    };
    {
        let (endpoint, stop, log) = (opts.endpoint.clone(), stop.clone(), opts.log.clone());
        std::thread::Builder::new()
            .name("agent-events".into())
            .spawn(move || watch_events(endpoint, ev_tx, stop, log))
            .map_err(HostError::Runtime)?;
    }
    let mut engine: Option<Engine> = None;
    let mut reason = "start";
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        if engine.is_none() {
            match Engine::connect_to(opts.endpoint.clone()) {
                Ok(e) => engine = Some(e),
                Err(e) => (opts.log)(&format!("warning: {e}")),
            }
        }
        if let Some(e) = &engine {
            match opts
                .queue
                .next_seq(now_ms())
                .and_then(|seq| build(e, &opts, &mut bench, reason, seq))
            {
                Ok(report) => {
                    let body = serde_json::to_vec(&report).unwrap_or_default();
                    match opts.queue.push(report.seq, &body) {
                        Ok(p) => {
                            if p.dropped > 0 {
                                (opts.log)(&format!(
                                    "warning: report queue full: dropped the {} oldest report(s)",
                                    p.dropped
                                ));
                            }
                            (opts.log)(&format!(
                                "queued report {} ({reason}, {} container(s))",
                                report.seq,
                                report.containers.len()
                            ));
                            let _ = wake_tx.try_send(());
                        }
                        Err(e) => (opts.log)(&format!("error: {e}")),
                    }
                }
                Err(e) => {
                    (opts.log)(&format!("warning: building the report: {e}"));
                    // Reconnect next time (the engine may have restarted).
                    engine = None;
                }
            }
        }
        let deadline = started + opts.interval;
        reason = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || stop.load(Ordering::Relaxed) {
                break "interval";
            }
            match ev_rx.recv_timeout(left.min(Duration::from_secs(1))) {
                Ok(()) => {
                    // Debounce: let a burst (compose up, a pull) settle.
                    std::thread::sleep(opts.debounce);
                    while ev_rx.try_recv().is_ok() {}
                    break "event";
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The event watcher has ended (it does on stop).
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(left.min(Duration::from_secs(1)));
                }
            }
        };
    }
    let _ = wake_tx.try_send(());
    let _ = sender.join();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_units() {
        assert_eq!(parse_interval("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_interval("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "m", "0s", "10d", "-1m", "99999h"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_state_changing_events_trigger() {
        use EventMessageTypeEnum as T;
        assert!(relevant(Some(T::CONTAINER), Some("start")));
        assert!(relevant(Some(T::CONTAINER), Some("destroy")));
        assert!(relevant(Some(T::IMAGE), Some("pull")));
        assert!(!relevant(Some(T::CONTAINER), Some("exec_start: sh")));
        assert!(!relevant(Some(T::NETWORK), Some("connect")));
        assert!(!relevant(None, Some("start")));
    }

    #[test]
    fn server_answers_decide_the_queue() {
        assert_eq!(classify(201, ""), Delivery::Done);
        assert_eq!(classify(200, "{\"stored\":false}"), Delivery::Done);
        let body =
            r#"{"errors":[{"code":"DENIED","message":"report field `seq`: must be positive"}]}"#;
        assert_eq!(
            classify(400, body),
            Delivery::Rejected("HTTP 400: report field `seq`: must be positive".into())
        );
        assert!(matches!(classify(503, ""), Delivery::Retry(_)));
        assert!(matches!(classify(403, ""), Delivery::Retry(_)));
    }

    #[test]
    fn host_ids_are_sanitised() {
        assert_eq!(host_id_from("ABCD:EFGH/../x y", "h"), "ABCD:EFGH..xy");
        assert_eq!(host_id_from("", "node-1.example"), "node-1.example");
    }
}
