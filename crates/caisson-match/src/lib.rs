//! Vulnerability matching for Caisson SBOMs.
//!
//! [`match_sbom`] asks an [`AdvisorySource`](caisson_model::AdvisorySource)
//! for each package's advisories and evaluates them with OSV's algorithm
//! ([`evaluate`]), ordering versions with `caisson-version`:
//!
//! - language packages by OSV ecosystem and normalised name (skipped when an
//!   OS package owns them: its distribution's advisories cover them, and the
//!   distribution backports fixes; [`match_sbom_with`] and
//!   [`OsOwnedMatching`] match them against language advisories too);
//! - Debian / Ubuntu packages by source package and version in
//!   `Debian:<VERSION_ID>` / `Ubuntu:<VERSION_ID>[:LTS]`; Alpine packages by
//!   origin in `Alpine:v<major.minor>`; RHEL-family RPMs in `Red Hat` by name
//!   and `epoch:version-release`;
//! - `database_specific.status` (entry, then record) `not-affected` drops an
//!   entry, `unfixed` / `end-of-life` with no ranges affects every version.
//!
//! Records that share an id or alias merge into one [`Finding`](caisson_model::Finding),
//! reported under the CVE when there is one. Severity: vendor, then CVSS via
//! a [`CvssScorer`], then UNKNOWN ([`severity`]). [`policy::apply`] then
//! applies severity / unfixed filters, the `.caissonignore` file ([`ignore`])
//! and OpenVEX documents ([`vex`]).
//!
//! Advisory records, ignore files and VEX documents are untrusted input:
//! `unwrap`, unchecked indexing and `panic` are denied.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod bounds;
pub mod evaluate;
pub mod ignore;
mod matcher;
pub mod policy;
mod purl_match;
pub mod query;
pub mod severity;
pub mod vex;

pub use ignore::{IgnoreEntry, IgnoreError, IgnoreFile};
pub use matcher::{match_queries, match_sbom, match_sbom_with, MatchError, MatchOutput};
pub use policy::{
    apply, parse_severities, Date, Policy, ScanResults, SuppressedFinding, Suppression,
};
pub use purl_match::purl_matches;
pub use query::OsOwnedMatching;
pub use severity::{CvssRating, CvssScorer, NoCvssScorer};
pub use vex::{VexDocument, VexError, VexStatement, VexStatus};
