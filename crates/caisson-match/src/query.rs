//! Which advisories to ask for, per package: language packages by OSV
//! ecosystem and name; OS packages only from their distribution's own data
//! (Debian/Ubuntu by source package, Alpine by origin, Red Hat by name).

use caisson_model::{normalize_package_name, OsRelease, Package, PackageType};
use caisson_version::Ecosystem;

/// One advisory lookup for one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// OSV ecosystem passed to the source: `PyPI`, `Debian:12`, `Alpine:v3.20`.
    pub ecosystem: String,
    /// Ordering for `ECOSYSTEM` ranges.
    pub scheme: Ecosystem,
    /// Name as the advisories write it (source package for Debian/Alpine).
    pub name: String,
    /// The version compared against the advisories (source version for Debian,
    /// `epoch:version-release` for RPM).
    pub version: String,
}

/// How language packages that an OS package installed (`owned_by` set) are
/// matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum OsOwnedMatching {
    /// Through their OS package's advisories only: the distribution backports
    /// fixes without changing the language package's version, so language
    /// advisories would report fixed code (the classic false positive).
    #[default]
    OsAdvisoriesOnly,
    /// Against their language ecosystem's advisories too
    /// (`--match-os-owned-language-packages`).
    OsAndLanguageAdvisories,
}

impl OsOwnedMatching {
    /// The name the scan JSON report uses.
    pub fn name(self) -> &'static str {
        match self {
            OsOwnedMatching::OsAdvisoriesOnly => "os-advisories-only",
            OsOwnedMatching::OsAndLanguageAdvisories => "os-and-language-advisories",
        }
    }
}

/// Why a package is not looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A language package installed by an OS package, which carries its advisories.
    OwnedByOsPackage,
    /// An OS package of a distribution (or package type) with no advisory data.
    UnsupportedOs(String),
}

/// The OSV ecosystem for OS packages of `os`, if Caisson has data for it.
pub fn os_ecosystem(os: &OsRelease, ty: PackageType) -> Result<(String, Ecosystem), String> {
    let version = os.version_id.as_deref().map(str::trim).unwrap_or("");
    let describe = || {
        format!(
            "{} packages on {} {}",
            ty,
            os.id,
            os.version_id.as_deref().unwrap_or("(no VERSION_ID)")
        )
    };
    match (ty, os.id.as_str()) {
        (PackageType::Deb, "debian") if !version.is_empty() => {
            let major = version.split('.').next().unwrap_or(version);
            Ok((format!("Debian:{major}"), Ecosystem::Debian))
        }
        (PackageType::Deb, "ubuntu") if !version.is_empty() => {
            let lts = os
                .pretty_name
                .as_deref()
                .is_some_and(|p| p.split_whitespace().any(|w| w == "LTS"));
            let suffix = if lts { ":LTS" } else { "" };
            Ok((format!("Ubuntu:{version}{suffix}"), Ecosystem::Debian))
        }
        (PackageType::Apk, "alpine") if !version.is_empty() => {
            let mut parts = version.split('.');
            match (parts.next(), parts.next()) {
                (Some(maj), Some(min)) => {
                    // `3.21_alpha20240807` → minor `21`
                    let min: String = min.chars().take_while(char::is_ascii_digit).collect();
                    Ok((format!("Alpine:v{maj}.{min}"), Ecosystem::Alpine))
                }
                _ => Err(describe()),
            }
        }
        (PackageType::Rpm, id)
            if matches!(id, "rhel" | "centos" | "rocky" | "almalinux")
                || os.id_like.iter().any(|l| l == "rhel") =>
        {
            Ok(("Red Hat".to_string(), Ecosystem::RedHat))
        }
        _ => Err(describe()),
    }
}

/// The lookup for `p`, or why there is none (OS-owned language packages
/// are skipped, as [`OsOwnedMatching::OsAdvisoriesOnly`] wants).
pub fn query_for(p: &Package, os: Option<&OsRelease>) -> Result<Query, Skip> {
    query_with(p, os, OsOwnedMatching::OsAdvisoriesOnly)
}

/// The lookup for `p` when OS-owned language packages are matched as `mode` says.
pub fn query_with(
    p: &Package,
    os: Option<&OsRelease>,
    mode: OsOwnedMatching,
) -> Result<Query, Skip> {
    if let Some(eco) = p.package_type.osv_ecosystem() {
        if p.owned_by.is_some() && mode == OsOwnedMatching::OsAdvisoriesOnly {
            return Err(Skip::OwnedByOsPackage);
        }
        let scheme = eco
            .parse::<Ecosystem>()
            .map_err(|e| Skip::UnsupportedOs(e.to_string()))?;
        return Ok(Query {
            ecosystem: eco.to_string(),
            scheme,
            name: normalize_package_name(eco, &p.name),
            version: p.version.clone(),
        });
    }
    let Some(os) = os else {
        return Err(Skip::UnsupportedOs(format!(
            "{} packages with no identified OS",
            p.package_type
        )));
    };
    let (ecosystem, scheme) = os_ecosystem(os, p.package_type).map_err(Skip::UnsupportedOs)?;
    let (name, version) = match p.package_type {
        PackageType::Deb => (
            p.source_name.clone().unwrap_or_else(|| p.name.clone()),
            p.source_version
                .clone()
                .unwrap_or_else(|| p.version.clone()),
        ),
        PackageType::Apk => (
            p.source_name.clone().unwrap_or_else(|| p.name.clone()),
            p.version.clone(),
        ),
        _ => (
            p.name.clone(),
            match p.epoch {
                Some(e) => format!("{e}:{}", p.version),
                None => p.version.clone(),
            },
        ),
    };
    Ok(Query {
        name: normalize_package_name(&ecosystem, &name),
        ecosystem,
        scheme,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(id: &str, v: &str, pretty: &str) -> OsRelease {
        OsRelease {
            id: id.into(),
            version_id: Some(v.into()),
            pretty_name: Some(pretty.into()),
            ..OsRelease::default()
        }
    }

    #[test]
    fn distribution_ecosystems() {
        let e = |o: &OsRelease, t| os_ecosystem(o, t).map(|(e, _)| e);
        assert_eq!(
            e(&os("debian", "12", "Debian GNU/Linux 12"), PackageType::Deb),
            Ok("Debian:12".into())
        );
        assert_eq!(
            e(
                &os("ubuntu", "22.04", "Ubuntu 22.04.4 LTS"),
                PackageType::Deb
            ),
            Ok("Ubuntu:22.04:LTS".into())
        );
        assert_eq!(
            e(&os("ubuntu", "23.10", "Ubuntu 23.10"), PackageType::Deb),
            Ok("Ubuntu:23.10".into())
        );
        assert_eq!(
            e(
                &os("alpine", "3.20.3", "Alpine Linux v3.20"),
                PackageType::Apk
            ),
            Ok("Alpine:v3.20".into())
        );
        assert_eq!(
            e(&os("rocky", "9.3", "Rocky Linux 9.3"), PackageType::Rpm),
            Ok("Red Hat".into())
        );
        assert!(e(&os("wolfi", "20230201", "Wolfi"), PackageType::Apk).is_err());
        assert!(e(&os("debian", "12", "Debian"), PackageType::Apk).is_err());
    }
}
