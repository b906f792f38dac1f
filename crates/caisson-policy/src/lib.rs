//! Caisson's policy engine: one decision procedure for every gate (CI, registry
//! pull, Kubernetes admission).
//!
//! Policies are Rego, evaluated by [regorus](https://docs.rs/regorus) (no OPA
//! binary): the built-in library (Pod Security Standards, least-privilege and
//! supply-chain rules), user `.rego` files following the contract in
//! `docs/policy.md`, and Gatekeeper `ConstraintTemplate`s with their constraints.
//! A [`PolicySet`] is compiled once and is cheap to clone; [`PolicySet::evaluate`]
//! decides one object, [`admission::review`] answers a whole AdmissionReview.
//!
//! ```
//! use caisson_policy::{PolicySet, Request, SupplyChainFacts};
//! let mut b = PolicySet::builder();
//! b.builtin("pss-baseline").unwrap();
//! let set = b.build().unwrap();
//! let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
//!     "metadata": {"name": "p"},
//!     "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "nginx:1.27"}]}});
//! let d = set.evaluate(&Request::from_object(pod), &SupplyChainFacts::default());
//! assert!(!d.allowed);
//! assert!(d.denials[0].message.contains("spec.hostNetwork=true"));
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

pub mod admission;
mod compat;
pub mod config;
mod engine;
mod error;
pub mod facts;
pub mod gatekeeper;
pub mod input;
pub mod library;
mod load;
pub mod manifest;
mod model;
mod recursion;
pub mod report;

pub use config::Config;
pub use engine::{Limits, PolicyInfo, PolicySet};
pub use error::PolicyError;
pub use facts::{FindingsSummary, ImageFacts, OsFacts, SignatureVerdict, SupplyChainFacts};
pub use input::{container_images, Gate, ImagePull, InputLimits, Request};
pub use load::PolicySetBuilder;
pub use model::{Decision, Mode, ObjectRef, PolicyMeta, PolicySource, Severity, Violation};
