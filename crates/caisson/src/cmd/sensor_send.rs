//! `caisson sensor run --server`: alerts to a Caisson server
//! (`POST /api/v1/alerts`) as well as to `--alerts`.
//!
//! The event pipeline must never wait for the network, so the sink only
//! hands each alert to a bounded in-memory channel ([`Forward::send`]
//! never blocks: when the channel is full the alert is counted as dropped
//! and logged). A batcher thread gathers alerts into batches (at most
//! [`BATCH_ALERTS`], or whatever arrived within [`BATCH_WAIT`] of the
//! first), gives each alert an id (`<sensor instance>-<batch seq>-<n>`) so
//! the server stores a re-delivered batch once, and writes each batch to
//! the host agent's bounded on-disk queue ([`caisson_host::agent::queue`]);
//! the agent's sender ([`caisson_host::agent::send_loop`]) delivers it,
//! oldest first, retrying with backoff while the server is away. Alerts
//! queued when the sensor stops are sent by its next run.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caisson_host::agent::queue::Queue;
use caisson_host::agent::{self, Log, SendOptions};
use caisson_model::runtime_alert::{RuntimeAlert, MAX_BATCH_ALERTS};
use caisson_sensor::alert::Alert;
use caisson_sensor::pipeline::AlertSink;

/// Alerts waiting for the batcher; past it, alerts are dropped (counted).
pub const CHANNEL_ALERTS: usize = 10_000;
/// Most alerts per batch.
pub const BATCH_ALERTS: usize = 200;
/// How long the first alert of a batch waits for others.
pub const BATCH_WAIT: Duration = Duration::from_secs(1);

const _: () = assert!(BATCH_ALERTS <= MAX_BATCH_ALERTS);

/// The server side of `sensor run`.
pub struct ServerOptions {
    pub server: String,
    pub user: String,
    pub password: String,
    pub server_ca: Option<Vec<u8>>,
    pub queue: Queue,
}

/// An [`AlertSink`] that writes to `inner` and forwards to the batcher.
pub struct Forward {
    pub inner: Box<dyn AlertSink>,
    tx: SyncSender<Alert>,
    dropped: Arc<AtomicU64>,
    log: Log,
}

impl AlertSink for Forward {
    fn send(&mut self, alert: &Alert) {
        self.inner.send(alert);
        match self.tx.try_send(alert.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // The first drop and then every 1000th: a flood does not flood the log.
                if n == 1 || n.is_multiple_of(1000) {
                    (self.log)(&format!(
                        "warning: the server alert channel is full: {n} alert(s) not forwarded to the server so far (they are in --alerts)"
                    ));
                }
            }
        }
    }
}

/// The running forwarder: the batcher and sender threads.
pub struct Forwarder {
    batcher: Option<std::thread::JoinHandle<()>>,
    queue: Queue,
    wake: SyncSender<()>,
    stop: Arc<AtomicBool>,
    /// Alerts not forwarded because the channel was full.
    pub dropped: Arc<AtomicU64>,
    log: Log,
}

/// The sensor instance id, created once per queue directory (so ids stay
/// unique across restarts and across sensors sharing a host name).
fn instance_id(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("instance");
    if let Ok(s) = fs_err::read_to_string(&path) {
        let s = s.trim().to_string();
        if !s.is_empty() && s.len() <= 64 && caisson_model::runtime_alert::valid_id(&s) {
            return Ok(s);
        }
    }
    let id = fs_err::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|u| u.trim().to_string())
        .unwrap_or_else(|_| {
            format!(
                "{}-{}",
                std::process::id(),
                caisson_registry::store::now_ms()
            )
        });
    fs_err::write(&path, &id)?;
    Ok(id)
}

/// The server form of a sensor alert, with its id, trimmed to the bounds.
pub fn to_runtime(alert: &Alert, id: String) -> anyhow::Result<RuntimeAlert> {
    let mut v = serde_json::to_value(alert)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), serde_json::Value::String(id));
    }
    let mut a: RuntimeAlert = serde_json::from_value(v)?;
    a.fit();
    Ok(a)
}

fn batch_loop(rx: Receiver<Alert>, queue: Queue, instance: String, wake: SyncSender<()>, log: Log) {
    let mut pending: Vec<Alert> = Vec::new();
    let mut first: Option<Instant> = None;
    loop {
        let wait = first.map_or(Duration::from_secs(3600), |t| {
            BATCH_WAIT.saturating_sub(t.elapsed())
        });
        let closed = match rx.recv_timeout(wait) {
            Ok(a) => {
                pending.push(a);
                first.get_or_insert_with(Instant::now);
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        let due = first.is_some_and(|t| t.elapsed() >= BATCH_WAIT);
        if !pending.is_empty() && (closed || due || pending.len() >= BATCH_ALERTS) {
            write_batch(&queue, &instance, std::mem::take(&mut pending), &log);
            first = None;
            let _ = wake.try_send(());
        }
        if closed {
            return;
        }
    }
}

fn write_batch(queue: &Queue, instance: &str, alerts: Vec<Alert>, log: &Log) {
    let seq = match queue.next_seq(caisson_registry::store::now_ms()) {
        Ok(s) => s,
        Err(e) => {
            log(&format!(
                "error: {} alert(s) not queued for the server: {e}",
                alerts.len()
            ));
            return;
        }
    };
    let mut batch = Vec::with_capacity(alerts.len());
    for (i, a) in alerts.iter().enumerate() {
        match to_runtime(a, format!("{instance}-{seq}-{i:03}")) {
            Ok(r) => batch.push(r),
            Err(e) => log(&format!("error: alert {} not forwarded: {e}", a.rule)),
        }
    }
    let body = match serde_json::to_vec(&batch) {
        Ok(b) => b,
        Err(e) => return log(&format!("error: encoding an alert batch: {e}")),
    };
    match queue.push(seq, &body) {
        Ok(p) if p.dropped > 0 => log(&format!(
            "warning: alert queue full: dropped the {} oldest batch(es)",
            p.dropped
        )),
        Ok(_) => {}
        Err(e) => log(&format!("error: {e}")),
    }
}

fn alerts_url(server: &str, _body: &[u8]) -> String {
    format!("{}/api/v1/alerts", server.trim_end_matches('/'))
}

impl Forwarder {
    /// Starts the batcher and sender; returns the sink to give the pipeline.
    pub fn start(
        opts: ServerOptions,
        inner: Box<dyn AlertSink>,
        log: Log,
    ) -> anyhow::Result<(Forward, Forwarder)> {
        let instance = instance_id(opts.queue.dir())?;
        let client =
            agent::http_client(&opts.server, opts.server_ca.as_deref(), agent::SEND_TIMEOUT)?;
        let send = Arc::new(SendOptions {
            server: opts.server,
            user: opts.user,
            password: opts.password,
            client,
            max_backoff: Duration::from_secs(30),
            method: reqwest::Method::POST,
            url: alerts_url,
            what: "alert batch",
        });
        let (tx, rx) = sync_channel::<Alert>(CHANNEL_ALERTS);
        let (wake_tx, wake_rx) = sync_channel::<()>(1);
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (q, stop, log) = (opts.queue.clone(), stop.clone(), log.clone());
            std::thread::Builder::new()
                .name("sensor-send".into())
                .spawn(move || agent::send_loop(send, q, wake_rx, stop, log))?;
        }
        let batcher = {
            let (q, wake, log) = (opts.queue.clone(), wake_tx.clone(), log.clone());
            std::thread::Builder::new()
                .name("sensor-batch".into())
                .spawn(move || batch_loop(rx, q, instance, wake, log))?
        };
        let dropped = Arc::new(AtomicU64::new(0));
        Ok((
            Forward {
                inner,
                tx,
                dropped: dropped.clone(),
                log: log.clone(),
            },
            Forwarder {
                batcher: Some(batcher),
                queue: opts.queue,
                wake: wake_tx,
                stop,
                dropped,
                log,
            },
        ))
    }

    /// After the pipeline stopped (and the [`Forward`] sink was dropped):
    /// queues what is pending, then gives the sender up to `grace` to
    /// empty the queue. What is left stays queued for the next run.
    pub fn finish(mut self, grace: Duration) -> usize {
        if let Some(b) = self.batcher.take() {
            let _ = b.join();
        }
        let deadline = Instant::now() + grace;
        let left = loop {
            let _ = self.wake.try_send(());
            let left = self.queue.list().map_or(0, |l| l.len());
            if left == 0 || Instant::now() >= deadline {
                break left;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        self.stop.store(true, Ordering::Relaxed);
        if left > 0 {
            (self.log)(&format!(
                "{left} alert batch(es) still queued in {}; the next run sends them",
                self.queue.dir().display()
            ));
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sensor's own alert, as it writes it, is what the server parses.
    #[test]
    fn sensor_alerts_are_valid_server_alerts() {
        let alert: Alert = Alert {
            time: "2026-12-07T01:52:34Z".into(),
            rule: "terminal-shell".into(),
            severity: caisson_model::Severity::High,
            mitre: vec!["T1059".into()],
            host: "node1".into(),
            container: Some(caisson_sensor::alert::AlertContainer {
                id: "ab".repeat(32),
                name: Some("web".into()),
                image: Some("alpine:3".into()),
                image_digest: None,
                pod: None,
                namespace: None,
            }),
            process: Some(caisson_sensor::alert::AlertProcess {
                pid: 7,
                exe: Some("/bin/sh".into()),
                cmdline: format!("sh -c {}", "x".repeat(10_000)),
                uid: Some(0),
                tty: Some(34816),
                ancestors: Vec::new(),
            }),
            evidence: serde_json::json!({"event": "exec"}),
            suppressed: 3,
        };
        let r = to_runtime(&alert, "i-1-000".into()).expect("converts");
        let body = serde_json::to_vec(&vec![r]).expect("json");
        let parsed = caisson_model::runtime_alert::parse_batch(&body).expect("server accepts");
        assert_eq!(parsed[0].suppressed, 3);
        assert_eq!(parsed[0].id, "i-1-000");
    }

    /// A full channel drops (and counts) instead of blocking the pipeline.
    #[test]
    fn a_full_channel_counts_drops_and_never_blocks() {
        struct Nothing;
        impl AlertSink for Nothing {
            fn send(&mut self, _: &Alert) {}
        }
        let (tx, _rx) = sync_channel::<Alert>(2);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut f = Forward {
            inner: Box::new(Nothing),
            tx,
            dropped: dropped.clone(),
            log: Arc::new(|_: &str| {}),
        };
        let a = Alert {
            time: "2026-12-07T01:52:34Z".into(),
            rule: "r".into(),
            severity: caisson_model::Severity::Low,
            mitre: Vec::new(),
            host: "h".into(),
            container: None,
            process: None,
            evidence: serde_json::json!({}),
            suppressed: 0,
        };
        for _ in 0..5 {
            f.send(&a);
        }
        assert_eq!(dropped.load(Ordering::Relaxed), 3);
    }
}
