//! The sensor: sources → bounded queue → engine (container metadata, rules,
//! rate limit) → alert sink. [`Engine`] is the synchronous decision part,
//! callable from tests without a kernel; [`Pipeline::run`] wires it to the
//! sources.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use caisson_model::Severity;
use serde::Serialize;

use crate::alert::{Alert, RateLimiter, DROPS_RULE};
use crate::allowlist::{AllowlistMode, Profiles};
use crate::directory::{CachedDirectory, ContainerDirectory};
use crate::error::SourceError;
use crate::event::Event;
use crate::metrics::{label, Metrics};
use crate::rules::{RuleSet, Subject};
use crate::source::SourceCounters;
use crate::watched::Shared;

/// Tunables; the defaults are what `caisson sensor run` uses.
#[derive(Clone)]
pub struct SensorConfig {
    /// Events held between the sources and the engine.
    pub queue_capacity: usize,
    /// One alert per (rule, container) per window; the rest are counted.
    pub rate_window: Duration,
    /// Ancestors reported per process.
    pub ancestors: usize,
    /// How often lost events are reported (as a [`DROPS_RULE`] alert).
    pub drop_report_interval: Duration,
    /// Least time between two full refreshes of container metadata.
    pub directory_refresh: Duration,
    /// Stop after this long (`None`: until the stop flag is set).
    pub duration: Option<Duration>,
    pub exec: bool,
    pub conntrack: bool,
    /// fanotify file events on containers' root filesystems.
    pub files: bool,
    /// Sample containers' resource use (metrics, threshold rules).
    pub resources: bool,
    pub resource_interval: Duration,
    /// How often `/proc` is scanned for new and stopped containers.
    pub scan_interval: Duration,
    pub mode: AllowlistMode,
    /// Executable allowlists (monitor, protect).
    pub profiles: Profiles,
    /// Modes and allowlists per image from a server ([`Shared::set_managed`]
    /// with these to start from); `mode` is then ignored and every mark asks
    /// for permission events.
    pub managed: Option<crate::allowlist::ManagedProfiles>,
    /// Only this container (id prefix or name): `caisson sensor learn`.
    pub only: Option<String>,
    pub metrics: Option<Arc<Metrics>>,
    /// Read packets the applied `caisson netpol` ruleset logs to this NFLOG
    /// group (`source/nflog.rs`).
    pub nflog_group: Option<u16>,
}

impl Default for SensorConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 8192,
            rate_window: Duration::from_secs(60),
            ancestors: crate::procfs::DEFAULT_ANCESTORS,
            drop_report_interval: Duration::from_secs(10),
            directory_refresh: Duration::from_secs(1),
            duration: None,
            exec: true,
            conntrack: true,
            files: true,
            resources: true,
            resource_interval: Duration::from_secs(5),
            scan_interval: Duration::from_secs(1),
            mode: AllowlistMode::Off,
            profiles: Profiles::default(),
            managed: None,
            only: None,
            metrics: None,
            nflog_group: None,
        }
    }
}

/// Where alerts go.
pub trait AlertSink {
    fn send(&mut self, alert: &Alert);
}

/// Alerts as JSON lines, flushed one by one.
pub struct JsonLines<W>(pub W);

impl<W: Write> AlertSink for JsonLines<W> {
    fn send(&mut self, alert: &Alert) {
        let line = serde_json::to_string(alert).unwrap_or_default();
        if writeln!(self.0, "{line}")
            .and_then(|()| self.0.flush())
            .is_err()
        {
            tracing::error!("writing an alert failed");
        }
    }
}

impl AlertSink for std::sync::mpsc::Sender<Alert> {
    fn send(&mut self, alert: &Alert) {
        let _ = std::sync::mpsc::Sender::send(self, alert.clone());
    }
}

/// What a run saw, for the summary and tests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SensorStats {
    pub events: u64,
    pub alerts: u64,
    pub suppressed: u64,
    pub sources: Vec<SourceStats>,
    pub directory_refreshes: u64,
    pub directory_errors: u64,
    /// p99 of rule evaluation per event, microseconds.
    pub eval_p99_us: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceStats {
    pub name: &'static str,
    pub received: u64,
    pub dropped: u64,
    pub kernel_overruns: u64,
    pub undecoded: u64,
}

/// Rules, container metadata and the rate limiter: one event in, alerts out.
pub struct Engine<D> {
    rules: RuleSet,
    directory: CachedDirectory<D>,
    limiter: RateLimiter,
    host: String,
    /// Evaluation times (ns), a bounded ring for the p99.
    eval_ns: Vec<u64>,
    eval_at: usize,
    pub events: u64,
    pub alerts: u64,
    metrics: Option<Arc<Metrics>>,
    /// Flows and network violations (`netpol.rs`), when asked for.
    pub netpol: Option<crate::netpol::Netpol>,
}

const EVAL_SAMPLES: usize = 4096;
/// While events keep arriving the engine drains the queue every
/// `BUSY_POLL` instead of parking on it: a parked receiver turns every
/// source's send into a futex wake and a context switch (several per exec
/// in a container), which on a small host costs the watched workload more
/// than the engine's own work. After `BUSY_IDLE_POLLS` empty polls it parks
/// again, so an idle host sees no periodic wake-ups but the 100 ms tick.
const BUSY_POLL: Duration = Duration::from_millis(1);
const BUSY_IDLE_POLLS: u32 = 8;
/// Most events handled per drain before the ticks below run.
const DRAIN_BATCH: usize = 4096;

impl<D: ContainerDirectory> Engine<D> {
    pub fn new(rules: RuleSet, directory: D, config: &SensorConfig, host: String) -> Self {
        Self {
            rules,
            directory: CachedDirectory::new(directory, config.directory_refresh),
            limiter: RateLimiter::new(config.rate_window),
            host,
            eval_ns: Vec::with_capacity(EVAL_SAMPLES),
            eval_at: 0,
            events: 0,
            alerts: 0,
            metrics: config.metrics.clone(),
            netpol: None,
        }
    }

    /// Decides one event; alerts go to `sink`.
    pub fn handle(&mut self, ev: &Event, now: Instant, sink: &mut dyn AlertSink) {
        self.events += 1;
        if let (Event::Conn(c), Some(_)) = (ev, &self.netpol) {
            let src = self.directory.by_ips(&[c.src], now).cloned();
            let dst = self.directory.by_ips(&[c.real_dst().0], now).cloned();
            if let Some(np) = &mut self.netpol {
                np.observe(c, src.as_ref(), dst.as_ref(), &self.host, now, sink);
            }
        }
        let (container_id, info) = match ev {
            Event::Conn(c) => match self.directory.by_ips(&[c.src, c.dst], now) {
                Some(info) => (Some(info.id.clone()), Some(info.clone())),
                None => (None, None),
            },
            other => match other.container_id() {
                Some(id) => (Some(id.to_string()), self.directory.by_id(id, now).cloned()),
                None => (None, None),
            },
        };
        let subject = Subject {
            event: ev,
            container: info.as_ref(),
            container_id: container_id.as_deref(),
        };
        let t = Instant::now();
        let fired: Vec<_> = self.rules.matching(&subject).collect();
        let elapsed = t.elapsed();
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        if let Some(m) = &self.metrics {
            m.rule_eval.observe(elapsed.as_secs_f64());
        }
        if self.eval_ns.len() < EVAL_SAMPLES {
            self.eval_ns.push(ns);
        } else if let Some(slot) = self.eval_ns.get_mut(self.eval_at % EVAL_SAMPLES) {
            *slot = ns;
        }
        self.eval_at = self.eval_at.wrapping_add(1);
        for rule in fired {
            let key = container_id.as_deref().unwrap_or("");
            if let Some(suppressed) = self.limiter.check(&rule.id, key, now) {
                let alert = Alert::new(
                    rule,
                    ev,
                    container_id.as_deref(),
                    info.as_ref(),
                    &self.host,
                    suppressed,
                );
                self.alerts += 1;
                if let Some(m) = &self.metrics {
                    m.alerts.get_or_create(&label("rule", &rule.id)).inc();
                }
                sink.send(&alert);
            }
        }
    }

    /// p99 of recent evaluations, microseconds.
    pub fn eval_p99_us(&self) -> f64 {
        let mut v = self.eval_ns.clone();
        if v.is_empty() {
            return 0.0;
        }
        v.sort_unstable();
        let i = (v.len() * 99 / 100).min(v.len() - 1);
        v.get(i).copied().unwrap_or(0) as f64 / 1000.0
    }

    /// The alert about lost events, raised by the sensor itself.
    pub fn drops_alert(&self, source: &str, lost_since: u64, lost_total: u64) -> Alert {
        Alert {
            time: caisson_report::rfc3339_utc(SystemTime::now()),
            rule: DROPS_RULE.to_string(),
            severity: Severity::High,
            mitre: vec![],
            host: self.host.clone(),
            container: None,
            process: None,
            evidence: serde_json::json!({
                "source": source,
                "lost": lost_since,
                "lost_total": lost_total,
                "hint": "events were lost: the engine fell behind or the kernel buffer overflowed; rules did not see them",
            }),
            suppressed: 0,
        }
    }
}

/// A running sensor: sources started, engine on the caller's thread.
pub struct Pipeline {
    pub stop: Arc<AtomicBool>,
    rx: Receiver<Event>,
    counters: Vec<Arc<SourceCounters>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    config: SensorConfig,
    shared: Arc<Shared>,
}

impl Pipeline {
    /// Opens the enabled sources (Linux, root); without a container
    /// directory for the watcher (no allowlists, no container names in
    /// metrics).
    pub fn start(config: SensorConfig) -> Result<Self, SourceError> {
        Self::start_with(config, None)
    }

    /// Opens the enabled sources (Linux, root). `directory` is the
    /// watcher's own connection to the engine (image of each container, for
    /// its allowlist).
    #[cfg(target_os = "linux")]
    pub fn start_with(
        config: SensorConfig,
        directory: Option<Box<dyn ContainerDirectory>>,
    ) -> Result<Self, SourceError> {
        use crate::source::{bounded, Queue};
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = bounded(config.queue_capacity);
        let mut counters = Vec::new();
        let mut threads = Vec::new();
        if config.exec {
            let q = Queue::for_source(tx.clone(), "exec");
            counters.push(q.counters.clone());
            let reader = crate::procfs::ProcReader::new("/proc", config.ancestors);
            threads.push(crate::source::exec::spawn(q, stop.clone(), reader)?);
        }
        if config.conntrack {
            let q = Queue::for_source(tx.clone(), "conntrack");
            counters.push(q.counters.clone());
            threads.push(crate::source::conntrack::spawn(q, stop.clone())?);
        }
        if let Some(group) = config.nflog_group {
            let q = Queue::for_source(tx.clone(), "nflog");
            counters.push(q.counters.clone());
            threads.push(crate::source::nflog::spawn(q, stop.clone(), group)?);
        }
        let shared = Arc::new(Shared::default());
        // Managed: the server may put any image in protect at any time, so
        // marks ask for permission events; the per-image mode decides.
        let mark_mode = match &config.managed {
            Some(m) => {
                shared.set_managed(m.clone());
                AllowlistMode::Protect
            }
            None => config.mode,
        };
        let fan = if config.files {
            let fan = Arc::new(crate::source::fanotify::open()?);
            let q = Queue::for_source(tx.clone(), "fanotify");
            counters.push(q.counters.clone());
            threads.push(crate::source::fanotify::spawn(
                fan.clone(),
                q,
                stop.clone(),
                shared.clone(),
                mark_mode,
                config.metrics.clone(),
            )?);
            Some(fan)
        } else {
            None
        };
        if config.files || config.resources {
            let q = Queue::for_source(tx.clone(), "resources");
            counters.push(q.counters.clone());
            threads.push(crate::source::watch::spawn(
                fan,
                q,
                stop.clone(),
                shared.clone(),
                directory,
                crate::source::watch::WatchConfig {
                    mode: mark_mode,
                    profiles: config.profiles.clone(),
                    scan_interval: config.scan_interval,
                    resource_interval: config.resource_interval,
                    only: config.only.clone(),
                },
                config.metrics.clone(),
            )?);
        }
        drop(tx);
        Ok(Self {
            stop,
            rx,
            counters,
            threads,
            config,
            shared,
        })
    }

    /// What the watcher and the fanotify thread share: watched containers,
    /// learned executables.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// The sources' counters, in start order.
    pub fn counters(&self) -> &[Arc<SourceCounters>] {
        &self.counters
    }

    #[cfg(not(target_os = "linux"))]
    pub fn start_with(
        _config: SensorConfig,
        _directory: Option<Box<dyn ContainerDirectory>>,
    ) -> Result<Self, SourceError> {
        Err(SourceError::Unsupported("runtime sensor"))
    }

    /// Runs the engine until the configured duration passes or `stop` is
    /// set, then stops the sources and returns the statistics.
    pub fn run<D: ContainerDirectory>(
        self,
        engine: &mut Engine<D>,
        sink: &mut dyn AlertSink,
    ) -> SensorStats {
        let start = Instant::now();
        let deadline = self.config.duration.map(|d| start + d);
        let mut reported: Vec<u64> = vec![0; self.counters.len()];
        let mut exported: Vec<[u64; 3]> = vec![[0; 3]; self.counters.len()];
        let mut next_export = start;
        let mut next_report = start + self.config.drop_report_interval;
        let mut idle_polls = BUSY_IDLE_POLLS;
        loop {
            let mut handled = 0usize;
            if idle_polls >= BUSY_IDLE_POLLS {
                match self.rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(ev) => {
                        engine.handle(&ev, Instant::now(), sink);
                        handled += 1;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                std::thread::sleep(BUSY_POLL);
            }
            let mut disconnected = false;
            while handled < DRAIN_BATCH {
                match self.rx.try_recv() {
                    Ok(ev) => {
                        engine.handle(&ev, Instant::now(), sink);
                        handled += 1;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
            if disconnected {
                break;
            }
            idle_polls = if handled > 0 {
                0
            } else {
                idle_polls.saturating_add(1)
            };
            let now = Instant::now();
            let done = self.stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| now >= d);
            if let Some(m) = &self.config.metrics {
                if now >= next_export || done {
                    next_export = now + Duration::from_secs(1);
                    for (c, last) in self.counters.iter().zip(exported.iter_mut()) {
                        let l = label("source", c.name);
                        let cur = [
                            c.received.load(Ordering::Relaxed),
                            c.dropped.load(Ordering::Relaxed),
                            c.kernel_overruns.load(Ordering::Relaxed),
                        ];
                        m.events
                            .get_or_create(&l)
                            .inc_by(cur[0].saturating_sub(last[0]));
                        m.dropped
                            .get_or_create(&l)
                            .inc_by(cur[1].saturating_sub(last[1]));
                        m.overruns
                            .get_or_create(&l)
                            .inc_by(cur[2].saturating_sub(last[2]));
                        *last = cur;
                    }
                }
            }
            if now >= next_report || done {
                next_report = now + self.config.drop_report_interval;
                for (c, seen) in self.counters.iter().zip(reported.iter_mut()) {
                    let lost = c.lost();
                    if lost > *seen {
                        sink.send(&engine.drops_alert(c.name, lost - *seen, lost));
                        *seen = lost;
                    }
                }
            }
            if done {
                break;
            }
        }
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        SensorStats {
            events: engine.events,
            alerts: engine.alerts,
            suppressed: engine.limiter.suppressed,
            sources: self
                .counters
                .iter()
                .map(|c| SourceStats {
                    name: c.name,
                    received: c.received.load(Ordering::Relaxed),
                    dropped: c.dropped.load(Ordering::Relaxed),
                    kernel_overruns: c.kernel_overruns.load(Ordering::Relaxed),
                    undecoded: c.undecoded.load(Ordering::Relaxed),
                })
                .collect(),
            directory_refreshes: engine.directory.refreshes,
            directory_errors: engine.directory.errors,
            eval_p99_us: engine.eval_p99_us(),
        }
    }
}

/// The host name alerts carry.
pub fn host_name() -> String {
    #[cfg(target_os = "linux")]
    {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    }
    #[cfg(not(target_os = "linux"))]
    {
        String::from("unknown")
    }
}
