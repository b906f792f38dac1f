//! Network segmentation learned from observed traffic (pure: no sockets, no
//! processes).
//!
//! ```text
//! conntrack events ─► FlowTable (sensor) ─► flows JSON lines ─► learn ─► NetworkPolicy YAML
//!   (workload = k8s owner | compose service | container)      └─► nftables ruleset
//! policy (either format) + flows ─► check ─► the flows it would deny
//! ```
//!
//! [`workload`] names who talks; [`flow`] aggregates connections into
//! flows and reads/writes them; [`k8s`] and [`nft`] generate policies and
//! parse them back for [`check`], which decides per connection what a policy
//! would do — the same decision the sensor uses for `network-violation`
//! alerts. docs/netpol.md is the user documentation.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod check;
pub mod error;
pub mod flow;
pub mod k8s;
pub mod nft;
mod nft_parse;
pub mod workload;

pub use check::{Conn, Policy, Verdict};
pub use error::Error;
pub use flow::{Flow, FlowTable, Observation, Peer};
pub use workload::{Workload, WorkloadKind};
