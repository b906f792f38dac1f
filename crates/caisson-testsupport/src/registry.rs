//! A real CNCF Distribution registry (`docker-registry`), killed on drop.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::run;

pub enum Auth {
    None,
    /// htpasswd file (bcrypt).
    Htpasswd(PathBuf),
    /// Token auth: the realm URL, service, issuer and the cert bundle the
    /// registry trusts for token signatures.
    Token {
        realm: String,
        service: String,
        issuer: String,
        root_cert: PathBuf,
    },
}

pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub tls: bool,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Registry {
    pub fn start(auth: Auth, tls: Option<Tls>) -> Registry {
        let dir = tempfile::tempdir().expect("registry tempdir");
        let port = free_port();
        let data = dir.path().join("data");
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: caisson-test-secret\n",
            data.display()
        );
        if let Some(t) = &tls {
            cfg.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                t.cert.display(),
                t.key.display()
            ));
        }
        match &auth {
            Auth::None => {}
            Auth::Htpasswd(p) => cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: caisson-test\n    path: {}\n",
                p.display()
            )),
            Auth::Token {
                realm,
                service,
                issuer,
                root_cert,
            } => cfg.push_str(&format!(
                "auth:\n  token:\n    realm: \"{realm}\"\n    service: \"{service}\"\n    issuer: \"{issuer}\"\n    rootcertbundle: {}\n",
                root_cert.display()
            )),
        }
        let cfg_path = dir.path().join("config.yml");
        fs_err::write(&cfg_path, cfg).expect("write registry config");
        let log = fs_err::File::create(dir.path().join("registry.log")).expect("log file");
        let log2 = log.try_clone().expect("log file clone");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.into_parts().0))
            .stderr(Stdio::from(log2.into_parts().0))
            .spawn()
            .expect("spawn docker-registry");
        let reg = Registry {
            child,
            port,
            dir,
            tls: tls.is_some(),
        };
        reg.wait_ready();
        reg
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not listen on {} within 20 s; log:\n{}",
            self.port,
            fs_err::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        fs_err::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `skopeo copy [extra] oci:<layout>:<tag> docker://<host>/<repo_tag>`.
    pub fn push(&self, layout: &Path, tag: &str, repo_tag: &str, extra: &[&str]) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "-q", "--dest-tls-verify=false"]);
        if !extra.contains(&"--format") {
            // Keep layers as written (skopeo would gzip plain tar layers).
            cmd.arg("--preserve-digests");
        }
        cmd.args(extra);
        cmd.arg(format!("oci:{}:{tag}", layout.display()));
        cmd.arg(format!("docker://{}/{repo_tag}", self.host()));
        run(&mut cmd);
    }

    /// `skopeo inspect --raw [--config]` of an image in this registry.
    pub fn inspect_raw(&self, repo_ref: &str, config: bool, creds: Option<&str>) -> Vec<u8> {
        let mut cmd = Command::new("skopeo");
        cmd.args(["inspect", "--tls-verify=false", "--raw"]);
        if config {
            cmd.arg("--config");
        }
        if let Some(c) = creds {
            cmd.args(["--creds", c]);
        }
        cmd.arg(format!("docker://{}/{repo_ref}", self.host()));
        run(&mut cmd)
    }

    pub fn blob_files(&self) -> usize {
        count_files(&self.dir.path().join("data"))
    }
}

fn count_files(p: &Path) -> usize {
    let Ok(rd) = fs_err::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_files(&p)
            } else {
                1
            }
        })
        .sum()
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail = log.len().saturating_sub(4000);
            let _ = std::io::stderr().write_all(log.get(tail..).unwrap_or("").as_bytes());
        }
    }
}

/// `htpasswd -Bbn user pass` into `dir/htpasswd`.
pub fn htpasswd(dir: &Path, user: &str, pass: &str) -> PathBuf {
    let line = run(Command::new("htpasswd").args(["-Bbn", user, pass]));
    let path = dir.join("htpasswd");
    fs_err::write(&path, line).expect("write htpasswd");
    path
}
