//! Java archives: Maven coordinates from `pom.properties`, falling back to
//! `MANIFEST.MF` attributes and the file name.

pub mod archive;

use std::io::{self, Read};

use caisson_image::Extractor;
use caisson_model::{Package, PackageType, Purl};

use crate::Found;
use archive::{ArchiveInfo, Archives, Limits};

pub const NAME: &str = "java-archive";
/// Largest archive read.
pub const MAX_ARCHIVE: u64 = 1 << 30;

/// The [`Extractor`] for Java archives.
pub struct JarExtractor;

impl Extractor for JarExtractor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn extract(
        &self,
        _path: &str,
        reader: &mut dyn Read,
        size: u64,
    ) -> io::Result<Option<Vec<u8>>> {
        if size > MAX_ARCHIVE {
            return Ok(None);
        }
        let found = archive::read_stream(reader, MAX_ARCHIVE, &Limits::default())?;
        serde_json::to_vec(&found)
            .map(Some)
            .map_err(io::Error::other)
    }
}

pub fn offered(path: &str, size: u64) -> bool {
    archive::is_archive_name(path) && (22..=MAX_ARCHIVE).contains(&size)
}

fn attr<'a>(info: &'a ArchiveInfo, key: &str) -> Option<&'a str> {
    info.manifest
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `commons-lang3-3.12.0.jar` → (`commons-lang3`, `Some("3.12.0")`).
pub fn split_file_name(path: &str) -> (String, Option<String>) {
    let base = path.rsplit(['/', '!']).next().unwrap_or(path);
    let stem = base.rsplit_once('.').map(|(s, _)| s).unwrap_or(base);
    // The version starts at the first `-` followed by a digit.
    let bytes = stem.as_bytes();
    for (i, _) in stem.match_indices('-') {
        if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let name = stem.get(..i).unwrap_or(stem);
            let version = stem.get(i + 1..).unwrap_or("");
            return (name.to_string(), Some(version.to_string()));
        }
    }
    (stem.to_string(), None)
}

fn maven_purl(group: &str, artifact: &str, version: &str) -> String {
    Purl::new("maven", artifact)
        .namespace(group)
        .version(version)
        .to_string()
}

fn maven_package(group: &str, artifact: &str, version: &str, location: &str) -> Package {
    let mut p = Package::found(
        PackageType::Maven,
        &format!("{group}:{artifact}"),
        version,
        maven_purl(group, artifact, version),
        location,
    );
    if group.is_empty() {
        p.name = artifact.to_string();
    }
    p
}

/// Coordinates guessed from the manifest and file name when an archive has no
/// `pom.properties`: artifact from the file name (else Implementation-Title),
/// version from Implementation-Version / Bundle-Version / the file name, group
/// from Implementation-Vendor-Id or the Bundle-SymbolicName (without its last
/// segment when that segment ends the artifact name: `org.apache.commons.lang3`
/// for `commons-lang3` gives `org.apache.commons`).
pub fn manifest_coordinates(info: &ArchiveInfo, file: &str) -> Option<(String, String, String)> {
    let (file_artifact, file_version) = split_file_name(file);
    let artifact = if file_artifact.is_empty() {
        attr(info, "Implementation-Title")?.to_string()
    } else {
        file_artifact
    };
    let version = attr(info, "Implementation-Version")
        .or_else(|| attr(info, "Bundle-Version"))
        .map(str::to_string)
        .or(file_version)?;
    let group = match attr(info, "Implementation-Vendor-Id") {
        Some(g) => g.to_string(),
        None => match attr(info, "Bundle-SymbolicName")
            .or_else(|| attr(info, "Automatic-Module-Name"))
        {
            Some(bsn) => match bsn.rsplit_once('.') {
                Some((head, last)) if artifact.ends_with(last) => head.to_string(),
                _ => bsn.to_string(),
            },
            None => String::new(),
        },
    };
    Some((group, artifact, version))
}

/// Packages of one archive tree extracted from `path`.
pub fn archive_packages(tree: &Archives, path: &str, found: &mut Found) {
    for info in &tree.archives {
        let (location, file) = if info.path.is_empty() {
            (path.to_string(), path.to_string())
        } else {
            (format!("{path}!/{}", info.path), info.path.clone())
        };
        let digest = (!info.sha1.is_empty()).then(|| format!("sha1:{}", info.sha1));
        let (stem, _) = split_file_name(&file);
        if info.poms.is_empty() {
            if let Some((g, a, v)) = manifest_coordinates(info, &file) {
                let mut p = maven_package(&g, &a, &v, &location);
                p.digests.extend(digest.clone());
                found.packages.push(p);
            }
            continue;
        }
        // Each pom.properties is a package (a shaded jar carries several);
        // the archive's own digest goes to the one the file is named after,
        // or to the only one.
        let own = info
            .poms
            .iter()
            .position(|p| stem.starts_with(&p.artifact_id))
            .or((info.poms.len() == 1).then_some(0));
        for (i, pom) in info.poms.iter().enumerate() {
            let mut p = maven_package(&pom.group_id, &pom.artifact_id, &pom.version, &location);
            if Some(i) == own {
                p.digests.extend(digest.clone());
            }
            found.packages.push(p);
        }
    }
    for problem in &tree.problems {
        found.warnings.push(caisson_model::Warning {
            code: "java-archive-skipped".to_string(),
            message: format!("{path}: {problem}"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(
            split_file_name("/x/commons-lang3-3.12.0.jar"),
            ("commons-lang3".to_string(), Some("3.12.0".to_string()))
        );
        assert_eq!(
            split_file_name("BOOT-INF/lib/log4j-api-2.19.0.jar"),
            ("log4j-api".to_string(), Some("2.19.0".to_string()))
        );
        assert_eq!(split_file_name("/usr/share/java/commons-lang3.jar").1, None);
    }

    #[test]
    fn manifest_fallback() {
        let info = ArchiveInfo {
            manifest: archive::parse_manifest(
                "Manifest-Version: 1.0\r\nBundle-SymbolicName: org.apache.commons.lang\r\n 3;singleton:=true\r\nBundle-Version: 3.12.0\r\n\r\nName: x\r\nImplementation-Version: 9\r\n",
            ),
            ..ArchiveInfo::default()
        };
        assert_eq!(
            manifest_coordinates(&info, "/usr/share/java/commons-lang3.jar"),
            Some((
                "org.apache.commons".to_string(),
                "commons-lang3".to_string(),
                "3.12.0".to_string()
            ))
        );
        let mut found = Found::default();
        archive_packages(
            &Archives {
                archives: vec![ArchiveInfo {
                    sha1: "ab".into(),
                    ..info
                }],
                problems: vec![],
            },
            "/usr/share/java/commons-lang3.jar",
            &mut found,
        );
        let p = &found.packages[0];
        assert_eq!(p.purl, "pkg:maven/org.apache.commons/commons-lang3@3.12.0");
        assert_eq!(p.name, "org.apache.commons:commons-lang3");
        assert_eq!(p.digests, ["sha1:ab"]);
    }
}
