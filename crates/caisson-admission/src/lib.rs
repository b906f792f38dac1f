//! Caisson's Kubernetes validating admission webhook.
//!
//! [`router`] serves `POST /admission/validate` (AdmissionReview
//! `admission.k8s.io/v1` in and out) and `GET /healthz`. The [`PolicySet`] is
//! compiled once and shared; each request is decided on a small pool of
//! evaluation threads (large stacks, bounded queue) under a deadline, and every
//! decision goes to a [`DecisionSink`]. [`tls::server_config`] builds the
//! rustls (ring provider) configuration `caisson_http::serve` runs the
//! router with; [`manifests`] writes what a cluster needs to call it.
//!
//! Deciding is a pure function of the request bytes ([`decide`]), so tests and
//! the fuzz target exercise it without a network.
//!
//! [`PolicySet`]: caisson_policy::PolicySet
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod clock;
mod decide;
mod error;
mod lookup;
mod pool;
mod server;

pub mod manifests;
pub mod resolve;
pub mod sink;
pub mod tls;

pub use decide::{decide, decide_value, Outcome};
pub use error::AdmissionError;
pub use server::{router, AdmissionState, ServerLimits, VALIDATE_PATH};
pub use sink::{DecisionRecord, DecisionSink, JsonLinesSink};
