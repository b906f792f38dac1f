//! Rust: `cargo auditable` data (the `.dep-v0` section: zlib-compressed JSON)
//! and `Cargo.lock` files.

use std::io::{self, Read, Seek};

use caisson_model::{Package, PackageType, Purl};
use serde::{Deserialize, Serialize};

use crate::{elf, spool::read_at, Found};

/// Largest compressed `.dep-v0` section read.
pub const MAX_SECTION: u64 = 8 << 20;
/// Largest decompressed dependency JSON accepted.
pub const MAX_JSON: u64 = 32 << 20;
/// Most packages kept from one binary.
const MAX_PACKAGES: usize = 100_000;

/// One crate as `cargo auditable` records it (fields this crate uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crate {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `runtime` (default) or `build`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub root: bool,
}

#[derive(Deserialize)]
struct DepInfo {
    packages: Vec<Crate>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Decompresses and parses `.dep-v0` contents.
pub fn parse_dep_v0(compressed: &[u8]) -> io::Result<Vec<Crate>> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| invalid(format!("cargo-auditable data is not valid zlib: {e}")))?;
    if json.len() as u64 > MAX_JSON {
        return Err(invalid(format!(
            "cargo-auditable data inflates past {MAX_JSON} bytes"
        )));
    }
    let info: DepInfo =
        serde_json::from_slice(&json).map_err(|e| invalid(format!("cargo-auditable JSON: {e}")))?;
    if info.packages.len() > MAX_PACKAGES {
        return Err(invalid(format!(
            "cargo-auditable data lists more than {MAX_PACKAGES} packages"
        )));
    }
    Ok(info.packages)
}

/// Reads the `.dep-v0` section of an ELF file held in `r` (`Ok(None)` without one).
pub fn read_auditable<R: Read + Seek>(r: &mut R, len: u64) -> io::Result<Option<Vec<Crate>>> {
    let Some((off, size)) = elf::find_section(r, len, b".dep-v0")? else {
        return Ok(None);
    };
    if size > MAX_SECTION {
        return Err(invalid(format!(
            ".dep-v0 section of {size} bytes is over the {MAX_SECTION}-byte limit"
        )));
    }
    let data = read_at(r, off, usize::try_from(size).unwrap_or(0))?;
    parse_dep_v0(&data).map(Some)
}

fn purl(name: &str, version: &str) -> String {
    Purl::new("cargo", name).version(version).to_string()
}

/// Packages of one auditable binary: every crate compiled into it (build
/// dependencies such as proc-macros and build scripts are not in the binary
/// and are left out).
pub fn binary_packages(crates: &[Crate], location: &str, found: &mut Found) {
    for c in crates {
        if c.kind.as_deref() == Some("build") {
            continue;
        }
        found.packages.push(Package::found(
            PackageType::Cargo,
            &c.name,
            &c.version,
            purl(&c.name, &c.version),
            location,
        ));
    }
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPackage>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
}

/// Parses a `Cargo.lock` (formats v1–v4 share `[[package]]` tables).
pub fn parse_cargo_lock(text: &str) -> Result<Vec<Crate>, String> {
    let lock: Lock = toml::from_str(text).map_err(|e| e.to_string())?;
    Ok(lock
        .package
        .into_iter()
        .map(|p| Crate {
            name: p.name,
            version: p.version,
            source: p.source,
            kind: None,
            root: false,
        })
        .collect())
}

/// Packages of one `Cargo.lock`.
pub fn lock_packages(text: &str, location: &str, found: &mut Found) {
    match parse_cargo_lock(text) {
        Ok(crates) => binary_packages(&crates, location, found),
        Err(e) => found.warnings.push(caisson_model::Warning {
            code: "cargo-lock-unreadable".to_string(),
            message: format!("{location}: cannot parse Cargo.lock: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const JSON: &str = r#"{"packages":[{"name":"demo","version":"0.1.0","source":"local","dependencies":[1,2],"root":true},{"name":"itoa","version":"1.0.9","source":"crates.io"},{"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}"#;

    #[test]
    fn reads_dep_v0_from_an_elf() {
        let elf =
            crate::elf::tests::build_elf(&[(".text", b"x"), (".dep-v0", &zlib(JSON.as_bytes()))]);
        let mut c = std::io::Cursor::new(&elf);
        let crates = read_auditable(&mut c, elf.len() as u64).unwrap().unwrap();
        assert_eq!(crates.len(), 3);
        assert!(crates[0].root);
        let mut found = Found::default();
        binary_packages(&crates, "/usr/bin/demo", &mut found);
        let purls: Vec<_> = found.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(purls, ["pkg:cargo/demo@0.1.0", "pkg:cargo/itoa@1.0.9"]);
    }

    #[test]
    fn hostile_dep_v0() {
        // Not zlib, not JSON, a zlib bomb past the JSON limit.
        assert!(parse_dep_v0(b"garbage").is_err());
        assert!(parse_dep_v0(&zlib(b"{not json")).is_err());
        let bomb = zlib(&vec![b' '; (MAX_JSON + 10) as usize]);
        assert!(bomb.len() < 1 << 20);
        let e = parse_dep_v0(&bomb).unwrap_err();
        assert!(e.to_string().contains("inflates past"), "{e}");
        // A section header claiming more than the limit.
        let big = vec![0u8; (MAX_SECTION + 1) as usize];
        let elf = crate::elf::tests::build_elf(&[(".dep-v0", &big)]);
        let mut c = std::io::Cursor::new(&elf);
        assert!(read_auditable(&mut c, elf.len() as u64).is_err());
    }

    #[test]
    fn cargo_lock_versions() {
        let v1 = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\ndependencies = [\n \"b 0.1.0 (registry+https://github.com/rust-lang/crates.io-index)\",\n]\n\n[[package]]\nname = \"b\"\nversion = \"0.1.0\"\n\n[metadata]\n\"checksum b 0.1.0 (registry+https://github.com/rust-lang/crates.io-index)\" = \"abc\"\n";
        let v4 = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"ff\"\n";
        assert_eq!(parse_cargo_lock(v1).unwrap().len(), 2);
        assert_eq!(parse_cargo_lock(v4).unwrap()[0].name, "a");
        assert!(parse_cargo_lock("[[package]]\nname = 1").is_err());
    }
}
