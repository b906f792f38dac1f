//! Version ordering exactly as each package ecosystem's own tooling does it.
//!
//! Every scheme parses a version string into a value with a total order
//! ([`Ord`]); parse once with [`Ecosystem::parse`] and compare many times, or
//! call [`compare`] on two strings. `Ord` is the tool's order everywhere
//! except for Maven's cyclic corner cases ([`Version::tool_cmp`]). Comparing parsed versions never allocates;
//! the dpkg, apk and RPM schemes compare strings without allocating at all.
//!
//! Ecosystem names follow OSV's (`Debian`, `Alpine`, `Red Hat`, `PyPI`, `npm`,
//! `Go`, `crates.io`, `Maven`, `RubyGems`, `NuGet`, `Packagist`, `Pub`,
//! `Hackage`, `CRAN`) plus `SemVer` for plain SemVer 2.0.0.
//!
//! Feeds and installed packages also hold versions the tools reject
//! (`1.18.-r2` in Alpine's secdb, `v1.2.3`, legacy PyPI versions).
//! [`Ecosystem::parse_lenient`] and [`compare_lenient`] order those by the
//! rules of OSV's reference implementation instead of failing, and leave
//! every version the tool accepts in the tool's order
//! ([`Version::is_fallback`] tells which is which).

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

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

mod apk;
mod composer;
mod cran;
mod dpkg;
mod fallback;
mod hackage;
mod maven;
mod nuget;
mod num;
mod pep440;
mod pubdev;
mod rpm;
mod rubygems;
mod semver;

/// A package ecosystem, named as OSV names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    /// dpkg ordering (Debian, Ubuntu and derivatives): epochs, `~`, revisions.
    Debian,
    /// apk-tools 3 ordering: letters, `_rc`/`_p` suffixes, `~hash`, `-rN`.
    Alpine,
    /// rpmvercmp with epoch and release (Red Hat, Rocky, Alma, SUSE…).
    RedHat,
    /// PEP 440 as implemented by `packaging.version`.
    PyPI,
    /// node-semver (`semver.compare`, strict mode).
    Npm,
    /// Go modules: `golang.org/x/mod/semver`, `v` prefix optional.
    Go,
    /// Cargo's `semver` crate, by precedence (build metadata ignored).
    CratesIo,
    /// Maven's `ComparableVersion`.
    Maven,
    /// RubyGems' `Gem::Version`.
    RubyGems,
    /// NuGet's `NuGetVersion` with `VersionComparer.Default`.
    NuGet,
    /// Composer: `VersionParser::normalize` then PHP's `version_compare`.
    Packagist,
    /// Dart's `pub_semver`.
    Pub,
    /// Cabal's `Version`: dot-separated naturals.
    Hackage,
    /// R's `package_version`.
    Cran,
    /// Plain SemVer 2.0.0 precedence.
    SemVer,
}

impl Ecosystem {
    /// Every ecosystem, in declaration order.
    pub const ALL: [Ecosystem; 15] = [
        Ecosystem::Debian,
        Ecosystem::Alpine,
        Ecosystem::RedHat,
        Ecosystem::PyPI,
        Ecosystem::Npm,
        Ecosystem::Go,
        Ecosystem::CratesIo,
        Ecosystem::Maven,
        Ecosystem::RubyGems,
        Ecosystem::NuGet,
        Ecosystem::Packagist,
        Ecosystem::Pub,
        Ecosystem::Hackage,
        Ecosystem::Cran,
        Ecosystem::SemVer,
    ];

    /// The OSV ecosystem name.
    pub fn name(self) -> &'static str {
        match self {
            Ecosystem::Debian => "Debian",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::RedHat => "Red Hat",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "Go",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Maven => "Maven",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::Pub => "Pub",
            Ecosystem::Hackage => "Hackage",
            Ecosystem::Cran => "CRAN",
            Ecosystem::SemVer => "SemVer",
        }
    }

    /// Parses `input` under this ecosystem's rules.
    pub fn parse(self, input: &str) -> Result<Version, VersionError> {
        let err = |reason| VersionError::new(self, input, reason);
        let repr = match self {
            Ecosystem::Debian => Repr::Dpkg(dpkg::DpkgVersion::parse(input).map_err(err)?),
            Ecosystem::Alpine => Repr::Apk(apk::ApkVersion::parse(input).map_err(err)?),
            Ecosystem::RedHat => Repr::Rpm(rpm::RpmVersion::parse(input).map_err(err)?),
            Ecosystem::PyPI => Repr::Pep440(pep440::Pep440Version::parse(input).map_err(err)?),
            Ecosystem::Npm => Repr::Npm(semver::SemVer::parse_npm(input).map_err(err)?),
            Ecosystem::Go => Repr::Go(semver::SemVer::parse_go(input).map_err(err)?),
            Ecosystem::CratesIo => Repr::Cargo(semver::SemVer::parse_cargo(input).map_err(err)?),
            Ecosystem::SemVer => Repr::SemVer(semver::SemVer::parse_strict(input).map_err(err)?),
            Ecosystem::Maven => Repr::Maven(maven::MavenVersion::parse(input)),
            Ecosystem::RubyGems => Repr::Gem(rubygems::GemVersion::parse(input).map_err(err)?),
            Ecosystem::NuGet => Repr::NuGet(nuget::NuGetVersion::parse(input).map_err(err)?),
            Ecosystem::Packagist => {
                Repr::Composer(composer::ComposerVersion::parse(input).map_err(err)?)
            }
            Ecosystem::Pub => Repr::Pub(pubdev::PubVersion::parse(input).map_err(err)?),
            Ecosystem::Hackage => {
                Repr::Hackage(hackage::HackageVersion::parse(input).map_err(err)?)
            }
            Ecosystem::Cran => Repr::Cran(cran::CranVersion::parse(input).map_err(err)?),
        };
        Ok(Version {
            ecosystem: self,
            repr,
            fallback: Fallback::None,
        })
    }

    /// Parses `input` as [`Ecosystem::parse`] does and, when the tool would
    /// reject it, reads it by the rules of OSV's reference implementation
    /// (the `semantic` package of osv.dev / osv-scanner) instead: Alpine
    /// (`1.18.-r2` orders as `1.18-r2`; `6.6.2p1-r0` just below `6.6.2p`),
    /// npm, Go, crates.io, SemVer and Pub (`v1.2.3` as `1.2.3`, `1.0` as
    /// `1.0.0`), PyPI (legacy versions below every PEP 440 version). The
    /// result says so ([`Version::is_fallback`]). Versions the tool accepts
    /// are returned exactly as `parse` returns them, and keep the tool's
    /// order among themselves. Errors only for what even these rules cannot
    /// order (an empty string, no leading number, and every rejected
    /// version of an ecosystem without a fallback: Debian, Red Hat, Maven
    /// (which rejects nothing), RubyGems, NuGet, Packagist, Hackage, CRAN).
    pub fn parse_lenient(self, input: &str) -> Result<Version, VersionError> {
        let strict_err = match self.parse(input) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let unorderable = || {
            VersionError::new(
                self,
                input,
                "rejected by the ecosystem's rules and not orderable by OSV's either",
            )
        };
        match fallback::lenient(self, input) {
            None => Err(match self {
                Ecosystem::Alpine
                | Ecosystem::PyPI
                | Ecosystem::Npm
                | Ecosystem::Go
                | Ecosystem::CratesIo
                | Ecosystem::SemVer
                | Ecosystem::Pub => unorderable(),
                _ => strict_err,
            }),
            Some(fallback::Lenient::PyLegacy(key)) => Ok(Version {
                ecosystem: self,
                repr: Repr::PyLegacy(key.into()),
                fallback: Fallback::Equal,
            }),
            Some(fallback::Lenient::Repaired(s)) => {
                let mut v = self.parse(&s).map_err(|_| unorderable())?;
                v.fallback = Fallback::Equal;
                Ok(v)
            }
            Some(fallback::Lenient::Below(s)) => {
                let mut v = self.parse(&s).map_err(|_| unorderable())?;
                v.fallback = Fallback::Below(input.into());
                Ok(v)
            }
        }
    }

    /// Compares two version strings under this ecosystem's rules.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        compare(self, a, b)
    }

    /// Compares two version strings as [`compare`] does when the tool
    /// accepts both, and by [`Ecosystem::parse_lenient`]'s order otherwise.
    pub fn compare_lenient(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        compare_lenient(self, a, b)
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An ecosystem name that is not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parsing ecosystem name {0:?}: unknown ecosystem (expected an OSV name such as Debian, PyPI, npm, Maven)")]
pub struct UnknownEcosystem(pub String);

impl FromStr for Ecosystem {
    type Err = UnknownEcosystem;

    /// Accepts OSV names (case-insensitive), with an optional `:release`
    /// suffix (`Debian:12`, `Alpine:v3.19`), and distributions that share a
    /// scheme: Ubuntu → dpkg; Rocky Linux, AlmaLinux, openSUSE, SUSE, Mageia,
    /// openEuler → RPM; Wolfi, Chainguard → apk.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let base = s.split(':').next().unwrap_or(s).trim();
        let lower = base.to_ascii_lowercase();
        let eco = match lower.as_str() {
            "debian" | "ubuntu" | "dpkg" | "deb" => Ecosystem::Debian,
            "alpine" | "apk" | "wolfi" | "chainguard" => Ecosystem::Alpine,
            "red hat" | "redhat" | "rpm" | "rocky linux" | "almalinux" | "opensuse" | "suse"
            | "mageia" | "openeuler" | "fedora" | "centos" => Ecosystem::RedHat,
            "pypi" | "pep440" => Ecosystem::PyPI,
            "npm" => Ecosystem::Npm,
            "go" => Ecosystem::Go,
            "crates.io" | "cargo" => Ecosystem::CratesIo,
            "maven" => Ecosystem::Maven,
            "rubygems" | "gem" => Ecosystem::RubyGems,
            "nuget" => Ecosystem::NuGet,
            "packagist" | "composer" => Ecosystem::Packagist,
            "pub" => Ecosystem::Pub,
            "hackage" => Ecosystem::Hackage,
            "cran" => Ecosystem::Cran,
            "semver" => Ecosystem::SemVer,
            _ => return Err(UnknownEcosystem(s.to_owned())),
        };
        Ok(eco)
    }
}

/// A version string that the ecosystem's tooling would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parsing {ecosystem} version {input:?}: {reason}")]
pub struct VersionError {
    /// The scheme it was parsed under.
    pub ecosystem: Ecosystem,
    /// The offending input.
    pub input: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl VersionError {
    fn new(ecosystem: Ecosystem, input: &str, reason: &'static str) -> Self {
        VersionError {
            ecosystem,
            input: input.to_owned(),
            reason,
        }
    }
}

/// A parsed version. Versions of the same ecosystem compare by that
/// ecosystem's rules; versions of different ecosystems compare by ecosystem
/// first, so the order stays total. Equality is the order's equality
/// (`1.0` equals `1.0.0` in PyPI), not string equality.
#[derive(Clone, Debug)]
pub struct Version {
    ecosystem: Ecosystem,
    repr: Repr,
    fallback: Fallback,
}

/// Whether a version was read by the ecosystem's rules or OSV's fallback.
/// Orders after `repr`: a `Below` version sorts just under every version
/// whose `repr` equals its own, and `Below` versions among themselves by
/// their original strings, which keeps the order total.
#[derive(Clone, Debug)]
enum Fallback {
    /// Accepted by the ecosystem's own rules.
    None,
    /// Rejected, and ordered exactly as its repair (or as a PyPI legacy version).
    Equal,
    /// Rejected, and ordered just below its repair; holds the original string.
    Below(Box<str>),
}

impl Fallback {
    fn cmp_tail(&self, other: &Fallback) -> Ordering {
        match (self, other) {
            (Fallback::Below(a), Fallback::Below(b)) => a.cmp(b),
            (Fallback::Below(_), _) => Ordering::Less,
            (_, Fallback::Below(_)) => Ordering::Greater,
            _ => Ordering::Equal,
        }
    }
}

#[derive(Clone, Debug)]
enum Repr {
    Dpkg(dpkg::DpkgVersion),
    Apk(apk::ApkVersion),
    Rpm(rpm::RpmVersion),
    Pep440(pep440::Pep440Version),
    /// A legacy (pre-PEP 440) version's joined key: below every `Pep440`.
    PyLegacy(Box<str>),
    Npm(semver::SemVer),
    Go(semver::SemVer),
    Cargo(semver::SemVer),
    SemVer(semver::SemVer),
    Maven(maven::MavenVersion),
    Gem(rubygems::GemVersion),
    NuGet(nuget::NuGetVersion),
    Composer(composer::ComposerVersion),
    Pub(pubdev::PubVersion),
    Hackage(hackage::HackageVersion),
    Cran(cran::CranVersion),
}

impl Version {
    /// The ecosystem this version was parsed under.
    pub fn ecosystem(&self) -> Ecosystem {
        self.ecosystem
    }

    /// True when the ecosystem's own rules reject this version and it was
    /// ordered by OSV's fallback rules ([`Ecosystem::parse_lenient`]).
    pub fn is_fallback(&self) -> bool {
        !matches!(self.fallback, Fallback::None)
    }

    /// Compares exactly as the ecosystem's own tool does; [`compare`] gives
    /// the same answers. This is [`Ord`] for every ecosystem but Maven, whose
    /// `ComparableVersion` is not transitive (`1.foo.2 < 1-alpha < 1 <
    /// 1.foo.2`): there `Ord` is a total order that departs from Maven on
    /// the pairs that form such cycles (see the crate README), and this
    /// method is Maven's answer. Use it to decide one comparison (is this
    /// version below the fix?), and `Ord` to sort.
    pub fn tool_cmp(&self, other: &Version) -> Ordering {
        match (&self.repr, &other.repr) {
            (Repr::Maven(a), Repr::Maven(b)) => a
                .cmp_maven(b)
                .then_with(|| self.fallback.cmp_tail(&other.fallback)),
            _ => self.cmp(other),
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_repr(other)
            .then_with(|| self.fallback.cmp_tail(&other.fallback))
    }
}

impl Version {
    fn cmp_repr(&self, other: &Self) -> Ordering {
        match (&self.repr, &other.repr) {
            (Repr::Dpkg(a), Repr::Dpkg(b)) => a.cmp(b),
            (Repr::Apk(a), Repr::Apk(b)) => a.cmp(b),
            (Repr::Rpm(a), Repr::Rpm(b)) => a.cmp(b),
            (Repr::Pep440(a), Repr::Pep440(b)) => a.cmp(b),
            (Repr::PyLegacy(a), Repr::PyLegacy(b)) => a.cmp(b),
            (Repr::PyLegacy(_), Repr::Pep440(_)) => Ordering::Less,
            (Repr::Pep440(_), Repr::PyLegacy(_)) => Ordering::Greater,
            (Repr::Npm(a), Repr::Npm(b)) => a.cmp_npm(b),
            (Repr::Go(a), Repr::Go(b))
            | (Repr::Cargo(a), Repr::Cargo(b))
            | (Repr::SemVer(a), Repr::SemVer(b)) => a.cmp(b),
            (Repr::Maven(a), Repr::Maven(b)) => a.cmp(b),
            (Repr::Gem(a), Repr::Gem(b)) => a.cmp(b),
            (Repr::NuGet(a), Repr::NuGet(b)) => a.cmp(b),
            (Repr::Composer(a), Repr::Composer(b)) => a.cmp(b),
            (Repr::Pub(a), Repr::Pub(b)) => a.cmp(b),
            (Repr::Hackage(a), Repr::Hackage(b)) => a.cmp(b),
            (Repr::Cran(a), Repr::Cran(b)) => a.cmp(b),
            _ => self.ecosystem.cmp(&other.ecosystem),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// Compares two version strings under `ecosystem`'s rules, exactly as the
/// ecosystem's tool does ([`Version::tool_cmp`]). Never panics.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    let err = |(input, reason)| VersionError::new(ecosystem, input, reason);
    match ecosystem {
        Ecosystem::Debian => dpkg::compare_str(a, b).map_err(err),
        Ecosystem::Alpine => apk::compare_str(a, b).map_err(err),
        Ecosystem::RedHat => rpm::compare_str(a, b).map_err(err),
        _ => Ok(ecosystem.parse(a)?.tool_cmp(&ecosystem.parse(b)?)),
    }
}

/// Compares two version strings under `ecosystem`: exactly as [`compare`]
/// when the ecosystem's tool accepts both, else by the order of
/// [`Ecosystem::parse_lenient`] (OSV's rules for what the tool rejects).
/// Errors only when one of them cannot be ordered even so. Never panics.
pub fn compare_lenient(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    match compare(ecosystem, a, b) {
        Ok(o) => Ok(o),
        Err(_) => Ok(ecosystem
            .parse_lenient(a)?
            .tool_cmp(&ecosystem.parse_lenient(b)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osv_names_round_trip() {
        for eco in Ecosystem::ALL {
            assert_eq!(eco.name().parse::<Ecosystem>(), Ok(eco));
        }
        assert_eq!("Ubuntu:22.04:LTS".parse(), Ok(Ecosystem::Debian));
        assert_eq!("Rocky Linux:9".parse(), Ok(Ecosystem::RedHat));
        assert!("Nope".parse::<Ecosystem>().is_err());
    }
}
