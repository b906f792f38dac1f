//! Pure parsers for the host's untrusted text: dockerd's command line,
//! daemon.json, audit rules, mountinfo and /etc/group. None of them panics;
//! each input is bounded by the caller ([`MAX_INPUT`]).

use serde_json::{Map, Value};

use crate::facts::ConfigFile;

/// Largest input any parser accepts (daemon.json, a rules file, mountinfo).
pub const MAX_INPUT: usize = 4 << 20;

/// Most rule or mount lines kept.
pub const MAX_LINES: usize = 100_000;

/// `/proc/<pid>/cmdline`: NUL-separated arguments (a trailing NUL is usual).
pub fn cmdline(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .take(MAX_LINES)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// daemon.json: a JSON object, or why it is not one.
pub fn daemon_json(bytes: &[u8]) -> ConfigFile {
    if bytes.len() > MAX_INPUT {
        return ConfigFile::Malformed(format!(
            "larger than {} bytes ({} bytes)",
            MAX_INPUT,
            bytes.len()
        ));
    }
    // dockerd accepts an empty file as "no options".
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return ConfigFile::Parsed(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => ConfigFile::Parsed(m),
        Ok(other) => ConfigFile::Malformed(format!(
            "expected a JSON object, found {}",
            json_kind(&other)
        )),
        Err(e) => ConfigFile::Malformed(e.to_string()),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Audit rule lines from `auditctl -l` output or a rules file: comments and
/// blank lines dropped; `No rules` (auditctl's answer for none) yields none.
pub fn audit_rules(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty() && *l != "No rules")
        .take(MAX_LINES)
        .map(str::to_string)
        .collect()
}

/// Whether one audit rule watches `path`: `-w <path>` or an `always` rule
/// with `-F path=<path>` / `-F dir=<path>`. Removals (`-W`), deletions
/// (`-d`) and `never` rules do not count.
pub fn rule_watches(rule: &str, path: &str) -> bool {
    let words: Vec<&str> = rule.split_whitespace().collect();
    let mut it = words.iter().peekable();
    let mut action_ok = true;
    let mut hit = false;
    while let Some(w) = it.next() {
        match *w {
            "-w" if it.next().is_some_and(|p| trim_slash(p) == trim_slash(path)) => hit = true,
            "-W" | "-d" | "-D" => return false,
            "-a" | "-A" => {
                if let Some(a) = it.next() {
                    action_ok = !a.split(',').any(|x| x == "never");
                }
            }
            "-F" => {
                if let Some(f) = it.next() {
                    if let Some((k, v)) = f.split_once('=') {
                        if (k == "path" || k == "dir") && trim_slash(v) == trim_slash(path) {
                            hit = true;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    hit && action_ok
}

fn trim_slash(p: &str) -> &str {
    if p.len() > 1 {
        p.trim_end_matches('/')
    } else {
        p
    }
}

/// One mountinfo line: mount id, parent id, device (`major:minor`), the
/// mount's root within its filesystem, and the mount point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u64,
    pub parent: u64,
    pub dev: String,
    pub root: String,
    pub mount_point: String,
}

/// The lines of `/proc/<pid>/mountinfo` (fields 1–5), octal escapes
/// (`\040` for a space) decoded; malformed lines skipped.
pub fn mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .take(MAX_LINES)
        .filter_map(|l| {
            let mut f = l.split(' ');
            let id = f.next()?.parse().ok()?;
            let parent = f.next()?.parse().ok()?;
            let dev = f.next()?.to_string();
            let root = unescape_octal(f.next()?);
            let mount_point = unescape_octal(f.next()?);
            Some(Mount {
                id,
                parent,
                dev,
                root,
                mount_point,
            })
        })
        .collect()
}

fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            if let Some(d) = b.get(i + 1..i + 4) {
                if d.iter().all(|x| (b'0'..=b'7').contains(x)) {
                    let v = d.iter().fold(0u32, |a, x| a * 8 + u32::from(x - b'0'));
                    if let Ok(v) = u8::try_from(v) {
                        out.push(v);
                        i += 4;
                        continue;
                    }
                }
            }
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One `/etc/group` or `/etc/passwd` style entry: name and numeric id
/// (field 3), plus the group's member list (field 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdEntry {
    pub name: String,
    pub id: u32,
    pub members: Vec<String>,
}

/// Entries of `/etc/group` or `/etc/passwd` (malformed lines skipped).
pub fn id_file(text: &str) -> Vec<IdEntry> {
    text.lines()
        .take(MAX_LINES)
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?.trim();
            let _pw = f.next()?;
            let id = f.next()?.trim().parse().ok()?;
            let members = f
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            (!name.is_empty()).then(|| IdEntry {
                name: name.to_string(),
                id,
                members,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_splits_on_nul() {
        assert_eq!(
            cmdline(b"dockerd\0-H\0unix:///x.sock\0--icc=false\0"),
            ["dockerd", "-H", "unix:///x.sock", "--icc=false"]
        );
        assert!(cmdline(b"").is_empty());
    }

    #[test]
    fn daemon_json_variants() {
        assert!(matches!(daemon_json(b"{\"icc\": false}"), ConfigFile::Parsed(m) if m.len() == 1));
        assert_eq!(daemon_json(b"  \n"), ConfigFile::Parsed(Map::new()));
        assert!(
            matches!(daemon_json(b"{\"icc\": false,}"), ConfigFile::Malformed(e) if e.contains("line 1"))
        );
        assert!(matches!(daemon_json(b"[1]"), ConfigFile::Malformed(e) if e.contains("an array")));
        let big = vec![b' '; MAX_INPUT + 1];
        assert!(matches!(daemon_json(&big), ConfigFile::Malformed(e) if e.contains("larger")));
    }

    #[test]
    fn audit_rules_and_watches() {
        let rules = audit_rules(
            "# docker\n-w /usr/bin/dockerd -k docker\n\n-a exit,always -F path=/run/containerd -F perm=war -k docker\n-a exit,never -F dir=/var/lib/docker/volumes\n-W /etc/docker -k docker\nNo rules\n",
        );
        assert_eq!(rules.len(), 4);
        let any = |p: &str| rules.iter().any(|r| rule_watches(r, p));
        assert!(any("/usr/bin/dockerd"));
        assert!(!any("/usr/bin/docker"), "no prefix matches");
        assert!(any("/run/containerd"));
        assert!(any("/run/containerd/"));
        assert!(!any("/var/lib/docker/volumes"), "never rules do not audit");
        assert!(!any("/etc/docker"), "-W removes a watch");
        assert!(audit_rules("No rules\n").is_empty());
    }

    #[test]
    fn mountinfo_mount_points() {
        let text = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
                    30 22 8:2 / /var/lib/docker rw - xfs /dev/sdb1 rw\n\
                    31 22 0:5 / /mnt/with\\040space rw - tmpfs tmpfs rw\n\
                    garbage\n";
        let m = mountinfo(text);
        let points: Vec<&str> = m.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, ["/", "/var/lib/docker", "/mnt/with space"]);
        assert_eq!((m[1].id, m[1].parent, m[1].dev.as_str()), (30, 22, "8:2"));
        assert_eq!(unescape_octal("a\\777b\\0"), "a\\777b\\0");
    }

    #[test]
    fn group_entries() {
        let g = id_file("root:x:0:\ndocker:x:998:alice, bob\nbroken\n#c:x:1:\nx:x:notanumber:\n");
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].members, ["alice", "bob"]);
        assert_eq!(g[1].id, 998);
    }
}
