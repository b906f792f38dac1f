//! One positive and one negative case per check, for images and Dockerfiles.

use super::*;
use serde_json::json;

fn ids(f: &[MisconfigFinding]) -> Vec<&str> {
    f.iter().map(|f| f.id.as_str()).collect()
}

fn lint(text: &str) -> Vec<MisconfigFinding> {
    lint_dockerfile("Dockerfile", text)
}

/// A Dockerfile that passes every check.
const GOOD_TAIL: &str = "HEALTHCHECK CMD [\"true\"]\nUSER 1000\n";

fn good(body: &str) -> String {
    format!("FROM debian:12\n{body}\n{GOOD_TAIL}")
}

/// (check id, Dockerfile that triggers it, one that does not)
fn dockerfile_cases() -> Vec<(&'static str, String, String)> {
    vec![
        ("root-user", "FROM debian:12\nHEALTHCHECK CMD [\"true\"]\n".into(), good("")),
        ("root-user", "FROM debian:12\nHEALTHCHECK CMD [\"true\"]\nUSER root:root\n".into(), good("USER app\n")),
        ("no-healthcheck", "FROM debian:12\nUSER 1000\n".into(), good("")),
        ("no-healthcheck", "FROM debian:12\nHEALTHCHECK NONE\nUSER 1000\n".into(), good("")),
        ("add-instead-of-copy", good("ADD https://example.com/x.tgz /opt/"), good("COPY x /opt/")),
        ("sshd-installed", good("RUN apt-get install -y --no-install-recommends openssh-server=1:9.2 && rm -rf /var/lib/apt/lists/*"), good("RUN apt-get install -y --no-install-recommends openssh-client=1:9.2 && rm -rf /var/lib/apt/lists/*")),
        ("package-cache-left", good("RUN apt-get install -y --no-install-recommends a=1"), good("RUN apt-get install -y --no-install-recommends a=1 && rm -rf /var/lib/apt/lists/*")),
        ("package-cache-left", good("RUN apk add a=1"), good("RUN apk add --no-cache a=1")),
        ("package-cache-left", good("RUN pip install a==1"), good("RUN pip install --no-cache-dir a==1")),
        ("unpinned-base-image", "FROM debian:latest\nHEALTHCHECK CMD [\"true\"]\nUSER 1\n".into(), good("")),
        ("unpinned-base-image", "FROM docker.io/library/debian\nHEALTHCHECK CMD [\"true\"]\nUSER 1\n".into(), "FROM debian:12 AS b\nFROM b\nHEALTHCHECK CMD [\"true\"]\nUSER 1\n".into()),
        ("secret-in-env-arg", good("ENV API_TOKEN=abc123"), good("ENV API_TOKEN_FILE=/run/secrets/t")),
        ("secret-in-env-arg", good("ARG DB_PASSWORD"), good("ARG VERSION=1")),
        ("privileged-port", good("EXPOSE 443/tcp"), good("EXPOSE 8443/tcp")),
        ("apt-no-install-recommends", good("RUN apt-get install -y a=1 && rm -rf /var/lib/apt/lists/*"), good("RUN apt-get install -y --no-install-recommends a=1 && rm -rf /var/lib/apt/lists/*")),
        ("apt-unpinned", good("RUN apt-get install -y --no-install-recommends a && rm -rf /var/lib/apt/lists/*"), good("RUN apt-get install -y --no-install-recommends a=1 && rm -rf /var/lib/apt/lists/*")),
        ("apt-missing-yes", good("RUN apt-get install --no-install-recommends a=1 && rm -rf /var/lib/apt/lists/*"), good("RUN apt-get -qy install --no-install-recommends a=1 && rm -rf /var/lib/apt/lists/*")),
        ("apk-unpinned", good("RUN apk add --no-cache bash"), good("RUN apk add --no-cache bash=5.2-r0")),
        ("pip-unpinned", good("RUN python3 -m pip install --no-cache-dir requests"), good("RUN pip install --no-cache-dir -r requirements.txt")),
        ("npm-unpinned", good("RUN npm install @scope/pkg"), good("RUN npm install @scope/pkg@1.2.3 && npm ci")),
        ("curl-pipe-shell", good("RUN wget -qO- https://x/i.sh | bash -s --"), good("RUN curl -fsSLo i.sh https://x/i.sh && sha256sum -c i.sh.sha256 && sh i.sh")),
        ("sudo", good("RUN sudo make install"), good("RUN make install")),
        ("cd-instead-of-workdir", good("RUN cd /src && make"), good("WORKDIR /src\nRUN make")),
        ("maintainer-deprecated", good("MAINTAINER me"), good("LABEL org.opencontainers.image.authors=me")),
        ("relative-workdir", good("WORKDIR src"), good("WORKDIR /src")),
    ]
}

#[test]
fn every_check_has_cases() {
    let d = dockerfile_cases();
    let img = image_cases();
    for c in CHECKS {
        if c.scope != Scope::Image {
            assert!(
                d.iter().any(|(id, ..)| *id == c.id),
                "no Dockerfile case for {}",
                c.id
            );
        }
        if c.scope != Scope::Dockerfile {
            assert!(
                img.iter().any(|(id, ..)| *id == c.id),
                "no image case for {}",
                c.id
            );
        }
    }
}

#[test]
fn dockerfile_positive() {
    for (id, pos, _) in dockerfile_cases() {
        let f = lint(&pos);
        assert!(
            ids(&f).contains(&id),
            "{id}: expected in\n{pos}\ngot {:?}",
            ids(&f)
        );
    }
}

#[test]
fn dockerfile_negative() {
    for (id, _, neg) in dockerfile_cases() {
        let f = lint(&neg);
        assert!(f.is_empty(), "{id}: expected nothing in\n{neg}\ngot {f:?}");
    }
}

#[test]
fn bad_dockerfile_lines() {
    let text = include_str!("../tests/data/Dockerfile.bad");
    let got: Vec<(usize, &str)> = lint_dockerfile("Dockerfile.bad", text)
        .iter()
        .map(|f| (f.line.unwrap_or(0), check(&f.id).map_or("?", |c| c.id)))
        .collect();
    for want in [
        (3, "unpinned-base-image"),
        (3, "no-healthcheck"),
        (4, "maintainer-deprecated"),
        (5, "secret-in-env-arg"),
        (6, "secret-in-env-arg"),
        (7, "add-instead-of-copy"),
        (8, "add-instead-of-copy"),
        (9, "apt-missing-yes"),
        (9, "apt-no-install-recommends"),
        (9, "apt-unpinned"),
        (9, "package-cache-left"),
        (9, "sshd-installed"),
        (10, "sudo"),
        (11, "curl-pipe-shell"),
        (12, "cd-instead-of-workdir"),
        (13, "pip-unpinned"),
        (13, "package-cache-left"),
        (14, "npm-unpinned"),
        (15, "apk-unpinned"),
        (15, "package-cache-left"),
        (16, "relative-workdir"),
        (17, "privileged-port"),
        (17, "sshd-installed"),
        (18, "root-user"),
    ] {
        assert!(got.contains(&want), "missing {want:?} in {got:?}");
    }
    let clean = include_str!("../tests/data/Dockerfile.clean");
    assert_eq!(lint_dockerfile("Dockerfile.clean", clean), vec![]);
}

#[test]
fn parser_positions_continuations_comments_heredocs() {
    let text = "# escape=\\\nFROM a:1\n\nRUN echo a \\\n  # comment inside\n  && echo b\nRUN <<EOF\necho x\nEOF\nuser 1\n";
    let ins = parse_dockerfile(text);
    let kw: Vec<(&str, usize)> = ins.iter().map(|i| (i.keyword.as_str(), i.line)).collect();
    assert_eq!(kw, [("FROM", 2), ("RUN", 4), ("RUN", 7), ("USER", 10)]);
    assert_eq!(ins[1].args, "echo a    && echo b");
    assert!(ins[2].args.contains("echo x"));
    let bt = parse_dockerfile("# escape=`\nFROM a:1\nRUN echo a `\n b\n");
    assert_eq!(bt[1].args, "echo a   b");
}

fn cfg(c: serde_json::Value) -> serde_json::Value {
    c
}

fn clean_config() -> serde_json::Value {
    cfg(json!({
        "User": "65532",
        "Healthcheck": {"Test": ["CMD", "true"]},
        "ExposedPorts": {"8080/tcp": {}},
        "Env": ["PATH=/usr/bin", "API_TOKEN_FILE=/run/secrets/t"],
        "Labels": {"org.opencontainers.image.base.name": "docker.io/library/debian:12"},
    }))
}

/// (check id, config, history, files) positive; the negative is the clean config with no history/files.
type ImageCase = (
    &'static str,
    serde_json::Value,
    Vec<serde_json::Value>,
    Vec<FileFact>,
);

fn image_cases() -> Vec<ImageCase> {
    let with = |k: &str, v: serde_json::Value| {
        let mut c = clean_config();
        c[k] = v;
        c
    };
    let h = |s: &str| vec![json!({"created_by": s})];
    let file = |p: &str, m: u32| {
        vec![FileFact {
            path: p.into(),
            mode: m,
        }]
    };
    vec![
        ("root-user", with("User", json!("")), vec![], vec![]),
        ("root-user", with("User", json!("0:0")), vec![], vec![]),
        (
            "no-healthcheck",
            with("Healthcheck", json!({"Test": ["NONE"]})),
            vec![],
            vec![],
        ),
        (
            "add-instead-of-copy",
            clean_config(),
            h("ADD https://example.com/a.tgz /opt/ # buildkit"),
            vec![],
        ),
        (
            "add-instead-of-copy",
            clean_config(),
            h("/bin/sh -c #(nop) ADD file:app.tar.gz in /opt/"),
            vec![],
        ),
        (
            "setuid-files",
            clean_config(),
            vec![],
            file("/usr/bin/passwd", 0o104755),
        ),
        (
            "sshd-installed",
            clean_config(),
            vec![],
            file("/usr/sbin/sshd", 0o755),
        ),
        (
            "package-cache-left",
            clean_config(),
            vec![],
            file(
                "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
                0o644,
            ),
        ),
        (
            "unpinned-base-image",
            clean_config(),
            h("FROM debian:latest"),
            vec![],
        ),
        (
            "unpinned-base-image",
            with(
                "Labels",
                json!({"org.opencontainers.image.base.name": "debian"}),
            ),
            vec![],
            vec![],
        ),
        (
            "secret-in-env-arg",
            with("Env", json!(["DB_PASSWORD=x"])),
            vec![],
            vec![],
        ),
        (
            "secret-in-env-arg",
            clean_config(),
            h("RUN |1 NPM_TOKEN=npm_abc /bin/sh -c npm ci # buildkit"),
            vec![],
        ),
        (
            "secret-in-env-arg",
            clean_config(),
            h("/bin/sh -c #(nop)  ENV GITHUB_TOKEN=ghp_x"),
            vec![],
        ),
        (
            "privileged-port",
            with("ExposedPorts", json!({"22/tcp": {}})),
            vec![],
            vec![],
        ),
    ]
}

#[test]
fn image_positive() {
    for (id, c, h, f) in image_cases() {
        let got = check_image(&ImageInput {
            config: Some(&c),
            history: &h,
            files: &f,
        });
        assert!(ids(&got).contains(&id), "{id}: got {got:?}");
        // Nothing else fires: each case breaks one rule only.
        assert!(ids(&got).iter().all(|g| *g == id), "{id}: extra {got:?}");
    }
}

#[test]
fn image_negative() {
    let c = clean_config();
    let history = vec![
        json!({"created_by": "/bin/sh -c #(nop) ADD file:4b03b5f551e3fbdf47ec609712007327828f7530cc3455c43bbcdcaf449a75a9 in / "}),
        json!({"created_by": "RUN |1 VERSION=1 /bin/sh -c make # buildkit"}),
        json!({"created_by": "COPY app.tar.gz /opt/ # buildkit"}),
        json!({"created_by": "ENV TOKEN_FILE=/run/secrets/token"}),
        json!({"created_by": "RUN /bin/sh -c echo password=hunter2 # buildkit"}),
    ];
    let files = vec![
        FileFact {
            path: "/var/lib/apt/lists/lock".into(),
            mode: 0o640,
        },
        FileFact {
            path: "/var/lib/apt/lists/partial/x".into(),
            mode: 0o600,
        },
        FileFact {
            path: "/usr/bin/ssh".into(),
            mode: 0o755,
        },
    ];
    let got = check_image(&ImageInput {
        config: Some(&c),
        history: &history,
        files: &files,
    });
    assert_eq!(got, vec![]);
}

#[test]
fn wanted_files() {
    assert!(wanted_file("/usr/bin/su", 0o4755));
    assert!(wanted_file("/usr/bin/wall", 0o2755));
    assert!(wanted_file("/usr/sbin/sshd", 0o755));
    assert!(wanted_file("/root/.cache/pip/http/a", 0o644));
    assert!(!wanted_file("/usr/bin/ls", 0o755));
    assert!(!wanted_file("/var/lib/apt/lists/lock", 0o640));
}

#[test]
fn secret_names() {
    for n in [
        "DB_PASSWORD",
        "github_token",
        "AWS_SECRET_ACCESS_KEY",
        "API_KEY",
        "npm_token",
    ] {
        assert!(is_secret_name(n), "{n}");
    }
    for n in [
        "PATH",
        "TOKEN_FILE",
        "PASSWORD_PATH",
        "SECRET_NAME",
        "HOME",
        "VERSION",
    ] {
        assert!(!is_secret_name(n), "{n}");
    }
}

#[test]
fn check_ids_are_unique_kebab_case() {
    let mut seen = std::collections::BTreeSet::new();
    for c in CHECKS {
        assert!(seen.insert(c.id), "duplicate {}", c.id);
        assert!(
            c.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{}",
            c.id
        );
    }
}
