//! Dockerfile parsing (logical lines with positions) and linting.

use std::collections::BTreeSet;

use crate::image::{base_ref_problem, is_secret_name, privileged_ports};
use crate::shell::{commands, Simple};
use crate::{finding, MisconfigFinding};

/// Longest Dockerfile accepted (bytes); the rest is ignored.
const MAX_DOCKERFILE: usize = 4 << 20;

/// One instruction: keyword upper-cased, arguments with continuations joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line of the keyword.
    pub line: usize,
    pub end_line: usize,
    pub keyword: String,
    pub args: String,
}

fn heredoc_word(args: &str) -> Option<(String, bool)> {
    let i = args.find("<<")?;
    let rest = args.get(i + 2..)?;
    let (dash, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let word: String = rest
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some((word, dash))
}

/// Splits a Dockerfile into instructions. Comments and blank lines are
/// skipped (also inside continuations), the `escape` parser directive is
/// honoured, heredocs (`<<EOF`) are kept in the arguments.
pub fn parse_dockerfile(text: &str) -> Vec<Instruction> {
    let text = text.get(..text.len().min(MAX_DOCKERFILE)).unwrap_or(text);
    let mut escape = '\\';
    let lines: Vec<&str> = text.lines().collect();
    // Parser directives: leading `# key=value` comments.
    for l in &lines {
        let t = l.trim();
        let Some(d) = t.strip_prefix('#') else { break };
        let Some((k, v)) = d.split_once('=') else {
            break;
        };
        if k.trim().eq_ignore_ascii_case("escape") {
            escape = v.trim().chars().next().unwrap_or('\\');
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(raw) = lines.get(i) {
        let t = raw.trim();
        i += 1;
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let start = i;
        let mut body = String::new();
        let mut cur = t.to_string();
        loop {
            let trimmed = cur.trim_end();
            if let Some(cont) = trimmed.strip_suffix(escape) {
                body.push_str(cont);
                body.push(' ');
                // Next non-comment line continues the instruction.
                let mut next = None;
                while let Some(l) = lines.get(i) {
                    i += 1;
                    let lt = l.trim();
                    if lt.starts_with('#') {
                        continue;
                    }
                    next = Some(l.to_string());
                    break;
                }
                match next {
                    Some(n) => cur = n,
                    None => break,
                }
            } else {
                body.push_str(trimmed);
                break;
            }
        }
        let (keyword, args) = match body.trim().split_once(char::is_whitespace) {
            Some((k, a)) => (k.to_ascii_uppercase(), a.trim().to_string()),
            None => (body.trim().to_ascii_uppercase(), String::new()),
        };
        let mut args = args;
        if let Some((word, dash)) = heredoc_word(&args) {
            while let Some(l) = lines.get(i) {
                i += 1;
                let end = if dash { l.trim() } else { l.trim_end() };
                if end == word {
                    break;
                }
                args.push('\n');
                args.push_str(l);
            }
        }
        out.push(Instruction {
            line: start,
            end_line: i.max(start),
            keyword,
            args,
        });
    }
    out
}

/// Strips `--flag` / `--flag=value` options (BuildKit's `--mount`, `--chown`,
/// `--platform`, …) from the front of an instruction's arguments.
fn strip_flags(args: &str) -> &str {
    let mut rest = args.trim_start();
    while rest.starts_with("--") {
        rest = rest
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r)
            .trim_start();
    }
    rest
}

/// The command line of a RUN: shell form as is, exec form joined.
fn run_line(args: &str) -> String {
    let a = strip_flags(args);
    if a.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(a) {
            return v.join(" ");
        }
    }
    a.to_string()
}

/// `KEY=VALUE KEY2=VALUE2` or the legacy `KEY VALUE` of ENV/ARG/LABEL.
fn pairs(args: &str, legacy: bool) -> Vec<(String, Option<String>)> {
    let words: Vec<String> = commands(args).into_iter().flat_map(|s| s.words).collect();
    if legacy && words.first().is_some_and(|w| !w.contains('=')) && words.len() > 1 {
        let k = words.first().cloned().unwrap_or_default();
        return vec![(k, Some(words.get(1..).unwrap_or_default().join(" ")))];
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect()
}

pub(crate) fn is_archive(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".zip",
    ]
    .iter()
    .any(|e| s.ends_with(e))
}

struct Lint<'a> {
    path: &'a str,
    out: Vec<MisconfigFinding>,
}

impl Lint<'_> {
    fn add(&mut self, id: &str, line: usize, message: String) {
        self.out.push(finding(id, message, self.path, Some(line)));
    }
}

/// Whether the package args of an install pin versions, by ecosystem.
fn unpinned<'a>(
    args: &'a [String],
    pinned: impl Fn(&str) -> bool,
    skip_value: &[&str],
) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for a in args {
        if skip_next {
            skip_next = false;
            continue;
        }
        if a.starts_with('-') {
            skip_next = skip_value.contains(&a.as_str());
            continue;
        }
        if a.starts_with('/')
            || a.starts_with('.')
            || a.contains("://")
            || a.contains('$')
            || a.ends_with(".deb")
            || a.ends_with(".whl")
            || a == "."
        {
            continue;
        }
        if !pinned(a) {
            out.push(a.as_str());
        }
    }
    out
}

fn run_checks(
    l: &mut Lint<'_>,
    line: usize,
    cmd: &str,
    seen: &mut BTreeSet<(usize, &'static str)>,
) {
    let cmds = commands(cmd);
    let mut once = |l: &mut Lint<'_>, id: &'static str, msg: String| {
        if seen.insert((line, id)) {
            l.add(id, line, msg);
        }
    };
    let mut apt_installs = false;
    for (i, c) in cmds.iter().enumerate() {
        if c.first() == Some("sudo") {
            once(l, "sudo", "RUN uses sudo".into());
        }
        if c.first() == Some("cd") {
            once(
                l,
                "cd-instead-of-workdir",
                "RUN changes directory with cd".into(),
            );
        }
        let Some((prog, args)) = c.program() else {
            continue;
        };
        let has = |f: &[&str]| args.iter().any(|a| f.contains(&a.as_str()));
        match prog {
            "apt-get" | "apt" if args.iter().any(|a| a == "install") => {
                apt_installs = true;
                let after: Vec<String> = args
                    .iter()
                    .skip_while(|a| *a != "install")
                    .skip(1)
                    .cloned()
                    .collect();
                let sshd = after.iter().any(|p| p.starts_with("openssh-server"));
                if sshd {
                    once(l, "sshd-installed", "RUN installs openssh-server".into());
                }
                if !has(&["--no-install-recommends"]) {
                    once(
                        l,
                        "apt-no-install-recommends",
                        format!("`{prog} install` without --no-install-recommends"),
                    );
                }
                let yes = args.iter().any(|a| {
                    matches!(a.as_str(), "-y" | "--yes" | "--assume-yes" | "-qq" | "-q=2")
                        || (a.starts_with('-') && !a.starts_with("--") && a.contains('y'))
                });
                if !yes {
                    once(l, "apt-missing-yes", format!("`{prog} install` without -y"));
                }
                let u = unpinned(
                    &after,
                    |p| p.contains('='),
                    &["-o", "-t", "--target-release"],
                );
                if !u.is_empty() {
                    once(
                        l,
                        "apt-unpinned",
                        format!("unpinned packages: {}", u.join(", ")),
                    );
                }
            }
            "apk" if args.iter().any(|a| a == "add") => {
                let after: Vec<String> = args
                    .iter()
                    .skip_while(|a| *a != "add")
                    .skip(1)
                    .cloned()
                    .collect();
                if after
                    .iter()
                    .any(|p| p.starts_with("openssh-server") || p == "openssh")
                {
                    once(l, "sshd-installed", "RUN installs openssh-server".into());
                }
                if !has(&["--no-cache"]) {
                    once(
                        l,
                        "package-cache-left",
                        "`apk add` without --no-cache".into(),
                    );
                }
                let u = unpinned(
                    &after,
                    |p| p.contains('='),
                    &["-X", "--repository", "-t", "--virtual"],
                );
                if !u.is_empty() {
                    once(
                        l,
                        "apk-unpinned",
                        format!("unpinned packages: {}", u.join(", ")),
                    );
                }
            }
            "pip" | "pip3" | "python" | "python3" => {
                let args: Vec<String> = if prog.starts_with("python") {
                    match args.windows(2).position(|w| {
                        w.first().is_some_and(|a| a == "-m")
                            && w.get(1).is_some_and(|a| a.starts_with("pip"))
                    }) {
                        Some(p) => args.get(p + 2..).unwrap_or_default().to_vec(),
                        None => continue,
                    }
                } else {
                    args.to_vec()
                };
                if args.first().map(String::as_str) != Some("install") {
                    continue;
                }
                let rest = args.get(1..).unwrap_or_default();
                if !rest.iter().any(|a| a == "--no-cache-dir") {
                    once(
                        l,
                        "package-cache-left",
                        "`pip install` without --no-cache-dir".into(),
                    );
                }
                if rest
                    .iter()
                    .any(|a| a == "-r" || a == "--requirement" || a.starts_with("--requirement="))
                {
                    continue;
                }
                let u = unpinned(
                    rest,
                    |p| p.contains("==") || p.contains('@') || p.contains("==="),
                    &[
                        "-c",
                        "--constraint",
                        "-e",
                        "--editable",
                        "-i",
                        "--index-url",
                        "--extra-index-url",
                        "-t",
                        "--target",
                        "--prefix",
                        "--root",
                        "-f",
                        "--find-links",
                    ],
                );
                if !u.is_empty() {
                    once(
                        l,
                        "pip-unpinned",
                        format!("unpinned packages: {}", u.join(", ")),
                    );
                }
            }
            "npm"
                if args
                    .first()
                    .is_some_and(|a| a == "install" || a == "i" || a == "add") =>
            {
                let rest = args.get(1..).unwrap_or_default();
                let u = unpinned(
                    rest,
                    |p| {
                        let name = p.strip_prefix('@').unwrap_or(p);
                        name.contains('@') || p.starts_with("git") || p.ends_with(".tgz")
                    },
                    &["--registry", "--prefix"],
                );
                if !u.is_empty() {
                    once(
                        l,
                        "npm-unpinned",
                        format!("unpinned packages: {}", u.join(", ")),
                    );
                }
            }
            "sh" | "bash" | "zsh" | "dash" | "ash" if c.piped => {
                let fetch = i
                    .checked_sub(1)
                    .and_then(|p| cmds.get(p))
                    .and_then(Simple::program)
                    .is_some_and(|(p, _)| p == "curl" || p == "wget");
                if fetch {
                    once(
                        l,
                        "curl-pipe-shell",
                        format!("a download is piped into {prog}"),
                    );
                }
            }
            _ => {}
        }
    }
    if apt_installs && !cmd.contains("/var/lib/apt/lists") {
        once(
            l,
            "package-cache-left",
            "`apt-get install` without `rm -rf /var/lib/apt/lists/*` in the same RUN".into(),
        );
    }
}

/// Lints a Dockerfile; `path` names it in the findings.
pub fn lint_dockerfile(path: &str, text: &str) -> Vec<MisconfigFinding> {
    let ins = parse_dockerfile(text);
    let mut l = Lint {
        path,
        out: Vec::new(),
    };
    let mut stages: BTreeSet<String> = BTreeSet::new();
    let mut seen = BTreeSet::new();
    // Per final stage: last USER, HEALTHCHECK.
    let mut user: Option<(usize, String)> = None;
    let mut health: Option<bool> = None;
    let mut from_line = 0;
    for i in &ins {
        match i.keyword.as_str() {
            "FROM" => {
                let a = strip_flags(&i.args);
                let mut w = a.split_whitespace();
                let image = w.next().unwrap_or("");
                if let (Some(kw), Some(name)) = (w.next(), w.next()) {
                    if kw.eq_ignore_ascii_case("as") {
                        stages.insert(name.to_ascii_lowercase());
                    }
                }
                if !stages.contains(&image.to_ascii_lowercase()) || image.is_empty() {
                    if let Some(p) = base_ref_problem(image) {
                        l.add("unpinned-base-image", i.line, format!("FROM {image}: {p}"));
                    }
                }
                user = None;
                health = None;
                from_line = i.line;
            }
            "USER" => user = Some((i.line, i.args.trim().to_string())),
            "HEALTHCHECK" => health = Some(!i.args.trim().eq_ignore_ascii_case("none")),
            "ADD" => {
                let a = strip_flags(&i.args);
                let srcs: Vec<&str> = {
                    let v: Vec<&str> = a.split_whitespace().collect();
                    v.get(..v.len().saturating_sub(1))
                        .unwrap_or_default()
                        .to_vec()
                };
                let why = if srcs
                    .iter()
                    .any(|s| s.starts_with("http://") || s.starts_with("https://"))
                {
                    "ADD downloads a remote URL without verification"
                } else if srcs.iter().any(|s| is_archive(s)) {
                    "ADD auto-extracts a local archive"
                } else {
                    "ADD copies local files; COPY is explicit"
                };
                l.add("add-instead-of-copy", i.line, why.into());
            }
            "ENV" | "ARG" => {
                for (k, v) in pairs(&i.args, i.keyword == "ENV") {
                    if is_secret_name(&k)
                        && (i.keyword == "ARG" || v.as_deref().is_some_and(|v| !v.is_empty()))
                    {
                        l.add(
                            "secret-in-env-arg",
                            i.line,
                            format!("{} {k} looks like a secret (value not shown)", i.keyword),
                        );
                    }
                }
            }
            "EXPOSE" => {
                for p in privileged_ports(i.args.split_whitespace()) {
                    l.add("privileged-port", i.line, format!("EXPOSE {p}"));
                    if p == 22 {
                        l.add("sshd-installed", i.line, "EXPOSE 22 (ssh)".into());
                    }
                }
            }
            "MAINTAINER" => l.add(
                "maintainer-deprecated",
                i.line,
                "MAINTAINER is deprecated".into(),
            ),
            "WORKDIR" => {
                let w = i.args.trim().trim_matches('"');
                if !(w.starts_with('/')
                    || w.starts_with('$')
                    || w.get(1..3) == Some(":\\")
                    || w.get(1..3) == Some(":/"))
                {
                    l.add(
                        "relative-workdir",
                        i.line,
                        format!("WORKDIR {w} is relative"),
                    );
                }
            }
            "RUN" => run_checks(&mut l, i.line, &run_line(&i.args), &mut seen),
            _ => {}
        }
    }
    if from_line > 0 {
        match &user {
            None => l.add(
                "root-user",
                from_line,
                "the final stage has no USER; the container runs as root".into(),
            ),
            Some((line, u)) => {
                let name = u.split(':').next().unwrap_or("");
                if name == "root" || name == "0" {
                    l.add("root-user", *line, format!("the last USER is {u}"));
                }
            }
        }
        if health != Some(true) {
            l.add(
                "no-healthcheck",
                from_line,
                "the final stage has no HEALTHCHECK".into(),
            );
        }
    }
    l.out.sort_by(|a, b| (a.line, &a.id).cmp(&(b.line, &b.id)));
    l.out
}
