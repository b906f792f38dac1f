//! The delivery worker: a bounded queue, one task per (notification,
//! endpoint), exponential backoff between attempts.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{mpsc, Semaphore};

use crate::{
    now_ms, AttemptOutcome, DeliveryAttempt, DeliveryLog, Endpoint, Notification, NotifyError,
};

/// Delivery settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Attempts per (notification, endpoint), the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles after each failure.
    pub backoff: Duration,
    /// Longest wait between attempts (also caps `Retry-After`).
    pub max_backoff: Duration,
    /// Per-request timeout (connect and response).
    pub timeout: Duration,
    /// Notifications waiting to be sent; beyond it they are dropped.
    pub queue: usize,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_attempts: 6,
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            queue: 1024,
            concurrency: 16,
        }
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, the `X-Caisson-Signature-256` value.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends notifications to endpoints in the background.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Notification>,
    log: Arc<dyn DeliveryLog>,
    endpoints: Arc<Vec<Endpoint>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Starts the worker on the current tokio runtime.
    pub fn start(
        endpoints: Vec<Endpoint>,
        options: Options,
        log: Arc<dyn DeliveryLog>,
    ) -> Result<Notifier, NotifyError> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .user_agent(concat!("caisson/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(NotifyError::Client)?;
        let (tx, mut rx) = mpsc::channel::<Notification>(options.queue.max(1));
        let endpoints = Arc::new(endpoints);
        let worker = Worker {
            client,
            options,
            log: Arc::clone(&log),
            slots: Arc::new(Semaphore::new(options.concurrency.max(1))),
        };
        let eps = Arc::clone(&endpoints);
        tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                let body: Arc<[u8]> = match serde_json::to_vec(&n) {
                    Ok(b) => b.into(),
                    Err(_) => continue,
                };
                let n = Arc::new(n);
                for ep in eps.iter().filter(|e| e.wants(&n.event)) {
                    let Ok(permit) = Arc::clone(&worker.slots).acquire_owned().await else {
                        return;
                    };
                    let w = worker.clone();
                    let (ep, n, body) = (ep.clone(), Arc::clone(&n), Arc::clone(&body));
                    tokio::spawn(async move {
                        w.deliver(&ep, &n, &body).await;
                        drop(permit);
                    });
                }
            }
        });
        Ok(Notifier { tx, log, endpoints })
    }

    /// Queues `n` for every endpoint that wants it. Returns false (and logs
    /// a `dropped` record per endpoint) when the queue is full.
    pub fn send(&self, n: Notification) -> bool {
        if !self.endpoints.iter().any(|e| e.wants(&n.event)) {
            return true;
        }
        match self.tx.try_send(n) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n)) => {
                tracing::warn!(event = %n.event, id = %n.id, "webhook queue full; notification dropped");
                for ep in self.endpoints.iter().filter(|e| e.wants(&n.event)) {
                    self.log.record(&DeliveryAttempt {
                        delivery: n.id.clone(),
                        endpoint: ep.name.clone(),
                        event: n.event.clone(),
                        attempt: 0,
                        status: None,
                        error: Some("the delivery queue was full".into()),
                        outcome: AttemptOutcome::Dropped,
                        at_ms: now_ms(),
                    });
                }
                false
            }
        }
    }

    /// The configured endpoints.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }
}

#[derive(Clone)]
struct Worker {
    client: reqwest::Client,
    options: Options,
    log: Arc<dyn DeliveryLog>,
    slots: Arc<Semaphore>,
}

/// What one attempt came to, before it is logged.
enum Try {
    Ok(u16),
    Retry(Option<u16>, String, Option<Duration>),
    GiveUp(u16, String),
}

impl Worker {
    async fn deliver(&self, ep: &Endpoint, n: &Notification, body: &[u8]) {
        let sig = signature(ep.secret(), body);
        let mut wait = self.options.backoff;
        for attempt in 1..=self.options.max_attempts.max(1) {
            let outcome = self.attempt(ep, n, body, &sig).await;
            let last = attempt >= self.options.max_attempts.max(1);
            let (status, error, outcome, retry_after) = match outcome {
                Try::Ok(s) => (Some(s), None, AttemptOutcome::Delivered, None),
                Try::GiveUp(s, e) => (Some(s), Some(e), AttemptOutcome::Failed, None),
                Try::Retry(s, e, after) if last => (s, Some(e), AttemptOutcome::Failed, after),
                Try::Retry(s, e, after) => (s, Some(e), AttemptOutcome::Retrying, after),
            };
            self.log.record(&DeliveryAttempt {
                delivery: n.id.clone(),
                endpoint: ep.name.clone(),
                event: n.event.clone(),
                attempt,
                status,
                error,
                outcome,
                at_ms: now_ms(),
            });
            if outcome != AttemptOutcome::Retrying {
                return;
            }
            let pause = retry_after.unwrap_or(wait).min(self.options.max_backoff);
            tokio::time::sleep(pause).await;
            wait = (wait * 2).min(self.options.max_backoff);
        }
    }

    async fn attempt(&self, ep: &Endpoint, n: &Notification, body: &[u8], sig: &str) -> Try {
        let res = self
            .client
            .post(ep.url.clone())
            .header("content-type", "application/json")
            .header("x-caisson-event", &n.event)
            .header("x-caisson-delivery", &n.id)
            .header("x-caisson-signature-256", sig)
            .body(body.to_vec())
            .send()
            .await;
        match res {
            Err(e) => Try::Retry(None, format!("{e}"), None),
            Ok(r) => {
                let s = r.status();
                let code = s.as_u16();
                if s.is_success() {
                    Try::Ok(code)
                } else if code == 408 || code == 429 || s.is_server_error() {
                    let after = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    Try::Retry(Some(code), format!("receiver answered {s}"), after)
                } else {
                    Try::GiveUp(code, format!("receiver answered {s}; not retried"))
                }
            }
        }
    }
}
