//! Prometheus metrics (the `prometheus-client` crate encodes them; served as
//! OpenMetrics text on `GET /metrics`, which Prometheus scrapes): event and
//! drop counters per source, rule evaluation latency, permission decisions,
//! and per-container resource use sampled from cgroups.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::resources::Usage;

type Labels = Vec<(String, String)>;
type FGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// Every metric the sensor exports.
pub struct Metrics {
    registry: Registry,
    /// `caisson_sensor_events_total{source}`.
    pub events: Family<Labels, Counter>,
    /// `caisson_sensor_events_dropped_total{source}` (queue full).
    pub dropped: Family<Labels, Counter>,
    /// `caisson_sensor_kernel_overruns_total{source}`.
    pub overruns: Family<Labels, Counter>,
    /// `caisson_sensor_alerts_total{rule}`.
    pub alerts: Family<Labels, Counter>,
    /// `caisson_sensor_rule_evaluation_seconds`.
    pub rule_eval: Histogram,
    /// `caisson_sensor_exec_decisions_total{decision}` (protect mode).
    pub decisions: Family<Labels, Counter>,
    /// `caisson_sensor_exec_decision_seconds` (protect mode).
    pub decision_time: Histogram,
    /// `caisson_sensor_watched_containers`.
    pub watched: Gauge,
    container: [Family<Labels, FGauge>; 7],
}

const CONTAINER_SERIES: [(&str, &str); 7] = [
    (
        "caisson_container_cpu_seconds",
        "CPU time used by the container (cumulative, from cpuacct.usage / cpu.stat)",
    ),
    (
        "caisson_container_memory_bytes",
        "Memory working set (usage minus inactive page cache)",
    ),
    (
        "caisson_container_memory_limit_bytes",
        "Memory limit (absent: none)",
    ),
    (
        "caisson_container_pids",
        "Processes and threads in the container's pids cgroup",
    ),
    ("caisson_container_pids_limit", "pids limit (absent: none)"),
    (
        "caisson_container_network_receive_bytes",
        "Bytes received on the container's interfaces except lo (cumulative)",
    ),
    (
        "caisson_container_network_transmit_bytes",
        "Bytes sent on the container's interfaces except lo (cumulative)",
    ),
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let events = Family::<Labels, Counter>::default();
        let dropped = Family::<Labels, Counter>::default();
        let overruns = Family::<Labels, Counter>::default();
        let alerts = Family::<Labels, Counter>::default();
        let decisions = Family::<Labels, Counter>::default();
        let rule_eval = Histogram::new(exponential_buckets(1e-6, 2.0, 16));
        let decision_time = Histogram::new(exponential_buckets(1e-6, 2.0, 16));
        let watched = Gauge::default();
        registry.register(
            "caisson_sensor_events",
            "Events read from each source",
            events.clone(),
        );
        registry.register(
            "caisson_sensor_events_dropped",
            "Events dropped because the engine's queue was full",
            dropped.clone(),
        );
        registry.register(
            "caisson_sensor_kernel_overruns",
            "Times the kernel reported lost events (netlink ENOBUFS, fanotify queue overflow)",
            overruns.clone(),
        );
        registry.register(
            "caisson_sensor_alerts",
            "Alerts sent, by rule",
            alerts.clone(),
        );
        registry.register(
            "caisson_sensor_rule_evaluation_seconds",
            "Time to evaluate every rule on one event",
            rule_eval.clone(),
        );
        registry.register(
            "caisson_sensor_exec_decisions",
            "Exec permission decisions in protect mode (allow, deny, error: allowed because the decision could not be made)",
            decisions.clone(),
        );
        registry.register(
            "caisson_sensor_exec_decision_seconds",
            "Time from reading an exec permission event to answering it",
            decision_time.clone(),
        );
        registry.register(
            "caisson_sensor_watched_containers",
            "Containers whose root filesystem carries a fanotify mark",
            watched.clone(),
        );
        let container: [Family<Labels, FGauge>; 7] = Default::default();
        for ((name, help), fam) in CONTAINER_SERIES.iter().zip(container.iter()) {
            registry.register(*name, *help, fam.clone());
        }
        Self {
            registry,
            events,
            dropped,
            overruns,
            alerts,
            rule_eval,
            decisions,
            decision_time,
            watched,
            container,
        }
    }

    /// Sets a container's series from one sample.
    pub fn set_container(&self, id: &str, name: &str, u: &Usage) {
        let labels = container_labels(id, name);
        let values = [
            u.cpu_ns.map(|n| n as f64 / 1e9),
            u.memory_bytes.map(|n| n as f64),
            u.memory_limit.map(|n| n as f64),
            u.pids.map(|n| n as f64),
            u.pids_limit.map(|n| n as f64),
            u.net_rx_bytes.map(|n| n as f64),
            u.net_tx_bytes.map(|n| n as f64),
        ];
        for (fam, v) in self.container.iter().zip(values) {
            match v {
                Some(v) => {
                    fam.get_or_create(&labels).set(v);
                }
                None => {
                    fam.remove(&labels);
                }
            }
        }
    }

    /// Removes a stopped container's series.
    pub fn remove_container(&self, id: &str, name: &str) {
        let labels = container_labels(id, name);
        for fam in &self.container {
            fam.remove(&labels);
        }
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        if encode(&mut s, &self.registry).is_err() {
            tracing::error!("encoding metrics failed");
        }
        s
    }
}

fn container_labels(id: &str, name: &str) -> Labels {
    vec![
        ("container_id".to_string(), id.to_string()),
        ("container_name".to_string(), name.to_string()),
    ]
}

/// One label set (`[("source", "exec")]`).
pub fn label(k: &str, v: &str) -> Labels {
    vec![(k.to_string(), v.to_string())]
}

/// Serves `GET /metrics` on `addr` from a thread of its own; returns the
/// bound address (port 0 picks one).
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("sensor-metrics".into())
        .spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    tracing::error!("metrics: could not use the listener");
                    return;
                };
                let app = axum::Router::new().route(
                    "/metrics",
                    axum::routing::get(move || {
                        let m = metrics.clone();
                        async move {
                            (
                                [(
                                    "content-type",
                                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                )],
                                m.encode(),
                            )
                        }
                    }),
                );
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!("metrics server stopped: {e}");
                }
            });
        })?;
    Ok(bound)
}
