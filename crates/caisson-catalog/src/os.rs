//! Identifying the operating system: `/etc/os-release`, `/usr/lib/os-release`,
//! then distribution-specific fallbacks.

use caisson_image::Vfs;
use caisson_model::{OsRelease, Warning};

const FILES: &[&str] = &[
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/alpine-release",
    "/etc/debian_version",
    "/etc/redhat-release",
    "/etc/centos-release",
    "/etc/fedora-release",
    "/etc/system-release",
    "/etc/lsb-release",
];

pub fn wants(path: &str) -> bool {
    FILES.contains(&path)
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    let inner = if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        v.get(1..v.len() - 1).unwrap_or("")
    } else {
        v
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses os-release(5) text. Returns `None` when there is no `ID`.
pub fn parse_os_release(text: &str) -> Option<OsRelease> {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = unquote(v);
        match k.trim() {
            "ID" => os.id = v.to_ascii_lowercase(),
            "VERSION_ID" => os.version_id = Some(v).filter(|s| !s.is_empty()),
            "VERSION_CODENAME" => os.codename = Some(v).filter(|s| !s.is_empty()),
            "PRETTY_NAME" => os.pretty_name = Some(v).filter(|s| !s.is_empty()),
            "ID_LIKE" => os.id_like = v.split_whitespace().map(str::to_string).collect(),
            _ => {}
        }
    }
    (!os.id.is_empty()).then_some(os)
}

/// `Red Hat Enterprise Linux release 8.4 (Ootpa)` → (`rhel`, `8.4`).
fn parse_redhat_release(text: &str) -> Option<OsRelease> {
    let line = text.lines().next()?.trim();
    let lower = line.to_ascii_lowercase();
    let id = if lower.starts_with("red hat") {
        "rhel"
    } else if lower.starts_with("centos") {
        "centos"
    } else if lower.starts_with("fedora") {
        "fedora"
    } else if lower.starts_with("rocky") {
        "rocky"
    } else if lower.starts_with("almalinux") {
        "almalinux"
    } else if lower.starts_with("amazon") {
        "amzn"
    } else if lower.starts_with("oracle") {
        "ol"
    } else {
        return None;
    };
    let version = line
        .split_whitespace()
        .skip_while(|w| *w != "release")
        .nth(1)
        .map(str::to_string);
    Some(OsRelease {
        id: id.to_string(),
        version_id: version,
        pretty_name: Some(line.to_string()),
        ..OsRelease::default()
    })
}

fn read_text(vfs: &Vfs, path: &str) -> Result<Option<String>, Warning> {
    match vfs.read(path) {
        Ok(Some(f)) => Ok(Some(String::from_utf8_lossy(&f.data).into_owned())),
        Ok(None) => Ok(None),
        Err(e) => Err(Warning {
            code: "symlink-loop".into(),
            message: e.to_string(),
        }),
    }
}

/// Identifies the OS. `Ok(None)` when nothing identifies it (scratch images).
pub fn identify_os(vfs: &Vfs) -> Result<Option<OsRelease>, Warning> {
    for p in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some(t) = read_text(vfs, p)? {
            if let Some(os) = parse_os_release(&t) {
                return Ok(Some(os));
            }
        }
    }
    if let Some(t) = read_text(vfs, "/etc/alpine-release")? {
        return Ok(Some(OsRelease {
            id: "alpine".into(),
            version_id: t.lines().next().map(|s| s.trim().to_string()),
            ..OsRelease::default()
        }));
    }
    for p in [
        "/etc/redhat-release",
        "/etc/centos-release",
        "/etc/fedora-release",
        "/etc/system-release",
    ] {
        if let Some(os) = read_text(vfs, p)?.as_deref().and_then(parse_redhat_release) {
            return Ok(Some(os));
        }
    }
    if let Some(t) = read_text(vfs, "/etc/debian_version")? {
        let v = t.trim().to_string();
        // `12.5` → version_id `12`, as os-release has it.
        let major = v.split('.').next().unwrap_or("").to_string();
        let numeric = !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit());
        return Ok(Some(OsRelease {
            id: "debian".into(),
            version_id: Some(if numeric { major } else { v.clone() }),
            codename: (!numeric).then(|| v.split('/').next().unwrap_or("").to_string()),
            ..OsRelease::default()
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_os_release_files() {
        let debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        let os = parse_os_release(debian).expect("has ID");
        assert_eq!(os.id, "debian");
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.codename.as_deref(), Some("bookworm"));
        assert_eq!(os.distro_qualifier(), "debian-12");
        let rhel = "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID='9.4'\n";
        let os = parse_os_release(rhel).expect("has ID");
        assert_eq!(
            (os.id.as_str(), os.version_id.as_deref()),
            ("rhel", Some("9.4"))
        );
        assert_eq!(os.id_like, vec!["fedora"]);
        assert_eq!(parse_os_release("NAME=x\n# ID=commented\n"), None);
    }

    #[test]
    fn redhat_release_fallback() {
        let os =
            parse_redhat_release("Red Hat Enterprise Linux release 8.4 (Ootpa)\n").expect("known");
        assert_eq!(
            (os.id.as_str(), os.version_id.as_deref()),
            ("rhel", Some("8.4"))
        );
        assert_eq!(parse_redhat_release("Something else 1.0"), None);
    }
}
