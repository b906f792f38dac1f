//! Path normalisation inside an image root.

/// Normalises a tar or image path to an absolute path with no `.`/`..`
/// components. Returns `None` when `..` would climb above the root (a hostile
/// archive) or the path is empty.
pub fn normalize(raw: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Some("/".to_string());
    }
    let mut out = String::with_capacity(raw.len() + 1);
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    Some(out)
}

/// Joins a symlink target onto the directory holding the link, staying inside
/// the root: absolute targets are relative to the image root and `..` stops at `/`.
pub fn resolve_link(link_dir: &str, target: &str) -> String {
    let joined = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{link_dir}/{target}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return "/".to_string();
    }
    let mut out = String::new();
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    out
}

/// The parent directory of a normalised path (`/` for top-level entries).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => path.get(..i).unwrap_or("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_refuses_escape() {
        assert_eq!(
            normalize("./var/lib/../lib/dpkg/status").as_deref(),
            Some("/var/lib/dpkg/status")
        );
        assert_eq!(
            normalize("/etc//os-release").as_deref(),
            Some("/etc/os-release")
        );
        assert_eq!(normalize("../etc/passwd"), None);
        assert_eq!(normalize("a/../../b"), None);
    }

    #[test]
    fn links_stay_in_root() {
        assert_eq!(
            resolve_link("/etc", "../usr/lib/os-release"),
            "/usr/lib/os-release"
        );
        assert_eq!(
            resolve_link("/etc", "/../../../../host/secret"),
            "/host/secret"
        );
        assert_eq!(resolve_link("/a/b", "../../../../x"), "/x");
        assert_eq!(parent("/etc/os-release"), "/etc");
        assert_eq!(parent("/etc"), "/");
    }
}
