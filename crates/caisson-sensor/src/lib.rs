//! Caisson's runtime sensor: watches the processes and connections of every
//! container on a Linux host and raises alerts from a readable rule set.
//!
//! ```text
//! process connector ─┐ (exec/fork/exit, enriched from /proc)
//!                    ├─► bounded queue ─► engine: container metadata (cached),
//! conntrack ─────────┘   (drops counted)   rules, rate limit ─► alert sink (JSON lines)
//! ```
//!
//! Pure parts (`wire`, `cgroup`, `rules`) are tested without a kernel; the
//! sources need Linux and root. docs/runtime.md documents the mechanisms,
//! what each can miss, the rule language and the alert format.

pub mod alert;
pub mod allowlist;
pub mod cgroup;
pub mod directory;
pub mod error;
pub mod event;
pub mod metrics;
pub mod netpol;
pub mod pipeline;
pub mod procfs;
pub mod resources;
pub mod rules;
pub mod source;
pub mod watched;
#[cfg(target_os = "linux")]
pub mod wire;

pub use alert::{Alert, RateLimiter};
pub use directory::{CachedDirectory, ContainerDirectory, ContainerInfo, DockerDirectory};
pub use error::{DirectoryError, RuleError, SourceError};
pub use event::{ConnEvent, Event, EventKind, ExecEvent};
pub use pipeline::{Pipeline, SensorConfig, SensorStats};
pub use rules::RuleSet;
