//! Test fixtures built with the real tools, and the oracle's answers.
//!
//! * `rpmbuild -bb` builds small packages from the specs in [`SPECS`];
//! * `rpm --root … -i` installs them, writing a real `rpmdb.sqlite`;
//! * `rpm -qa --queryformat …` (and `rpm -ql`) on that database is the oracle;
//! * `tests/fixtures/write_bdb.py` copies the header blobs into real Berkeley
//!   DB hash files with libdb (several page sizes, both byte orders, page
//!   checksums, bucket splits and deletions), and `rpm`'s own read-only bdb
//!   backend (`_db_backend bdb_ro`) queries each of them as a second oracle;
//! * `tests/fixtures/make_wal.py` makes a database whose last transaction is
//!   only in its `-wal`, and rpm queries that too.
//!
//! Everything lands in `$CAISSON_CACHE/rpmdb-fixtures/<hash of inputs>/`
//! (default `$HOME/.cache/caisson`), built once in a private directory and
//! renamed into place, so concurrent test binaries never see half a fixture.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ndb_writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use caisson_rpmdb::RpmPackage;

/// Bump when the fixture layout changes.
const FIXTURE_VERSION: &str = "v3";

pub const SPECS: &[(&str, &str)] = &[
    (
        "alpha",
        r#"Name: caisson-alpha
Epoch: 3
Version: 1.2.3
Release: 4.cs
Summary: Alpha test package
License: MIT
Vendor: Caisson Test Vendor
Packager: Caisson Tests <tests@example.invalid>

%description
Alpha, with an epoch and files in several directories.

%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc/alpha %{buildroot}/usr/share/doc/alpha
echo hi > %{buildroot}/usr/bin/alpha
echo conf > %{buildroot}/etc/alpha/alpha.conf
echo doc > %{buildroot}/usr/share/doc/alpha/README

%files
/usr/bin/alpha
%dir /etc/alpha
%config /etc/alpha/alpha.conf
/usr/share/doc/alpha
"#,
    ),
    (
        "beta",
        r#"Name: caisson-beta
Version: 0.9
Release: 1
Summary: Beta | noarch, with a subpackage
License: GPL-2.0-or-later AND BSD-3-Clause
BuildArch: noarch

%description
Beta.

%package data
Summary: Beta data files
%description data
The subpackage, whose SOURCERPM is caisson-beta's.

%install
mkdir -p %{buildroot}/usr/share/beta/sub
echo a > %{buildroot}/usr/share/beta/a.txt
echo b > "%{buildroot}/usr/share/beta/sub/b c.txt"

%files
/usr/share/beta/a.txt

%files data
"/usr/share/beta/sub/b c.txt"
"#,
    ),
    (
        "gamma",
        r#"Name: caisson-gamma
Version: 2024.01
Release: 7%{?dist}
Summary: Gamma: many files and a long description
License: Apache-2.0 OR MIT
URL: https://example.invalid/gamma

%description
%(for i in $(seq 1 3000); do echo "Gamma line $i makes this header large enough to need long overflow chains."; done)

%install
for d in $(seq 1 40); do
  mkdir -p %{buildroot}/usr/share/gamma/dir$d
  for f in $(seq 1 12); do echo $d$f > %{buildroot}/usr/share/gamma/dir$d/file$f.txt; done
done
mkdir -p %{buildroot}/usr/lib/gamma
echo n > "%{buildroot}/usr/lib/gamma/naïve ünïcode.txt"

%files
/usr/share/gamma
/usr/lib/gamma
"#,
    ),
    (
        "delta",
        r#"Name: caisson-delta
Epoch: 0
Version: 1
Release: 1
Summary: Delta owns no files
License: Public Domain

%description
Delta is a meta package.

%files
"#,
    ),
];

/// Berkeley DB variants: directory name and `write_bdb.py` arguments.
pub const BDB_VARIANTS: &[(&str, &[&str])] = &[
    ("p4096-le", &[]),
    ("p512-le", &["--pagesize", "512"]),
    ("p65536-le", &["--pagesize", "65536"]),
    ("p8192-be", &["--pagesize", "8192", "--lorder", "4321"]),
    ("p1024-chksum", &["--pagesize", "1024", "--chksum"]),
    (
        "p1024-many",
        &[
            "--pagesize",
            "1024",
            "--repeat",
            "120",
            "--delete-every",
            "7",
        ],
    ),
];

pub const MODULARITY_LABEL: &str = "caisson:1:20240101:abcd";

const QUERY_FIELDS: &[&str] = &[
    "DBINSTANCE",
    "NAME",
    "EPOCH",
    "VERSION",
    "RELEASE",
    "ARCH",
    "SOURCERPM",
    "LICENSE",
    "VENDOR",
    "PACKAGER",
    "SUMMARY",
    "SIZE",
    "LONGSIZE",
    "MODULARITYLABEL",
    "FILEDIGESTALGO",
];
const END: &str = "@@END@@";

pub struct Fixtures {
    pub dir: PathBuf,
}

impl Fixtures {
    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.join("sqlite/rpmdb.sqlite")
    }
    pub fn sqlite(&self) -> Vec<u8> {
        fs_err::read(self.sqlite_path()).unwrap()
    }
    pub fn sqlite_oracle(&self) -> Vec<OraclePkg> {
        parse_oracle(&self.dir.join("sqlite/oracle.txt"))
    }
    /// `rpm -ql NAME` output per package name.
    pub fn sqlite_ql(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for e in fs_err::read_dir(self.dir.join("sqlite/ql")).unwrap() {
            let e = e.unwrap();
            let name = e
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".txt")
                .to_string();
            let text = fs_err::read_to_string(e.path()).unwrap();
            let files: Vec<String> = text
                .lines()
                .filter(|l| *l != "(contains no files)")
                .map(str::to_string)
                .collect();
            out.insert(name, files);
        }
        out
    }
    pub fn bdb(&self, variant: &str) -> Vec<u8> {
        fs_err::read(self.dir.join("bdb").join(variant).join("Packages")).unwrap()
    }
    pub fn bdb_oracle(&self, variant: &str) -> Vec<OraclePkg> {
        parse_oracle(&self.dir.join("bdb").join(variant).join("oracle.txt"))
    }
    pub fn wal_db(&self) -> Vec<u8> {
        fs_err::read(self.dir.join("wal/snapshot/rpmdb.sqlite")).unwrap()
    }
    pub fn wal_log(&self) -> Vec<u8> {
        fs_err::read(self.dir.join("wal/snapshot/rpmdb.sqlite-wal")).unwrap()
    }
    pub fn wal_oracle(&self) -> Vec<OraclePkg> {
        parse_oracle(&self.dir.join("wal/oracle.txt"))
    }
}

/// One package as rpm's query printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OraclePkg {
    pub record: u32,
    pub name: String,
    pub epoch: Option<u64>,
    pub version: String,
    pub release: String,
    pub arch: Option<String>,
    pub source_rpm: Option<String>,
    pub license: Option<String>,
    pub vendor: Option<String>,
    pub packager: Option<String>,
    pub summary: Option<String>,
    pub size: Option<u64>,
    pub modularity_label: Option<String>,
    pub file_digest_algo: Option<u32>,
    pub files: Vec<String>,
}

impl OraclePkg {
    /// The same fields taken from this crate's parse, for comparison.
    pub fn from_ours(record: u32, p: &RpmPackage) -> Self {
        OraclePkg {
            record,
            name: p.name.clone(),
            epoch: p.epoch,
            version: p.version.clone(),
            release: p.release.clone(),
            arch: p.arch.clone(),
            source_rpm: p.source_rpm.clone(),
            license: p.license.clone(),
            vendor: p.vendor.clone(),
            packager: p.packager.clone(),
            summary: p.summary.clone(),
            size: p.size,
            modularity_label: p.modularity_label.clone(),
            file_digest_algo: p.file_digest_algo,
            files: p.files.clone(),
        }
    }
}

fn parse_oracle(path: &Path) -> Vec<OraclePkg> {
    let text = fs_err::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let mut fields = vec![first.to_string()];
        for _ in 1..QUERY_FIELDS.len() {
            fields.push(lines.next().expect("truncated oracle record").to_string());
        }
        let mut files = Vec::new();
        for l in lines.by_ref() {
            if l == END {
                break;
            }
            files.push(l.to_string());
        }
        let opt = |i: usize| -> Option<String> {
            let v = &fields[i];
            (v != "(none)").then(|| v.clone())
        };
        let size = opt(12).or_else(|| opt(11)).map(|s| s.parse().unwrap());
        out.push(OraclePkg {
            record: fields[0].parse().unwrap(),
            name: fields[1].clone(),
            epoch: opt(2).map(|s| s.parse().unwrap()),
            version: fields[3].clone(),
            release: fields[4].clone(),
            arch: opt(5),
            source_rpm: opt(6),
            license: opt(7),
            vendor: opt(8),
            packager: opt(9),
            summary: opt(10),
            size,
            modularity_label: opt(13),
            file_digest_algo: opt(14).map(|s| s.parse().unwrap()),
            files,
        });
    }
    out.sort_by_key(|p| p.record);
    out
}

fn query_format() -> String {
    let mut qf: String = QUERY_FIELDS
        .iter()
        .map(|f| format!("%{{{f}}}\\n"))
        .collect();
    qf.push_str("[%{FILENAMES}\\n]");
    qf.push_str(END);
    qf.push_str("\\n");
    qf
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn python_has_berkeleydb() -> bool {
    Command::new("python3")
        .args(["-c", "import berkeleydb"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The fixtures, or `None` (with a note on stderr) when the tools are missing
/// outside CI. In CI (`CI=true`) missing tools fail the test.
pub fn fixtures() -> Option<&'static Fixtures> {
    static FIX: OnceLock<Option<Fixtures>> = OnceLock::new();
    FIX.get_or_init(|| {
        let missing: Vec<&str> = [
            ("rpm", have("rpm", "--version")),
            ("rpmbuild", have("rpmbuild", "--version")),
            ("python3 berkeleydb", python_has_berkeleydb()),
        ]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| n)
        .collect();
        if !missing.is_empty() {
            let msg =
                format!("caisson-rpmdb oracle tests need {missing:?}; run scripts/deps.d/rpmdb.sh");
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{msg}");
            }
            caisson_testsupport::skip(&msg);
            return None;
        }
        Some(build())
    })
    .as_ref()
}

fn cache_root() -> PathBuf {
    let base = std::env::var_os("CAISSON_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/caisson")
        });
    base.join("rpmdb-fixtures")
}

fn input_hash() -> String {
    // FNV-1a over everything that shapes the fixtures.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |b: &[u8]| {
        for x in b {
            h ^= u64::from(*x);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        h ^= 0xff;
    };
    feed(FIXTURE_VERSION.as_bytes());
    for (n, s) in SPECS {
        feed(n.as_bytes());
        feed(s.as_bytes());
    }
    for (n, a) in BDB_VARIANTS {
        feed(n.as_bytes());
        for x in *a {
            feed(x.as_bytes());
        }
    }
    feed(include_bytes!("../fixtures/write_bdb.py"));
    feed(include_bytes!("../fixtures/make_wal.py"));
    format!("{h:016x}")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fixture_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn build() -> Fixtures {
    let root = cache_root();
    let dir = root.join(format!("{FIXTURE_VERSION}-{}", input_hash()));
    if dir.join("complete").exists() {
        return Fixtures { dir };
    }
    fs_err::create_dir_all(&root).unwrap();
    let work = tempfile::tempdir_in(&root).unwrap();
    let w = work.path();
    let top = w.join("top");
    let sysroot = w.join("root");
    fs_err::create_dir_all(top.join("SPECS")).unwrap();

    let mut rpms = Vec::new();
    for (name, spec) in SPECS {
        let path = top.join("SPECS").join(format!("{name}.spec"));
        fs_err::write(&path, spec).unwrap();
        run(Command::new("rpmbuild")
            .arg("-bb")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .args(["--define", "_build_id_links none"])
            .args(["--define", &format!("modularitylabel {MODULARITY_LABEL}")])
            .arg(&path));
    }
    for e in walk(&top.join("RPMS")) {
        if e.extension().is_some_and(|x| x == "rpm") {
            rpms.push(e);
        }
    }
    assert!(rpms.len() >= 5, "rpmbuild produced {rpms:?}");
    run(Command::new("rpm")
        .arg("--root")
        .arg(&sysroot)
        .args(["--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts"])
        .args(["--ignorearch", "--ignoreos"])
        .args(&rpms));

    let qf = query_format();
    let out_sqlite = w.join("out/sqlite");
    fs_err::create_dir_all(out_sqlite.join("ql")).unwrap();
    let rpm_root = |extra: &[&str]| {
        let mut c = Command::new("rpm");
        c.arg("--root")
            .arg(&sysroot)
            .args(["--dbpath", "/var/lib/rpm"]);
        c.args(extra);
        c
    };
    let oracle = run(&mut rpm_root(&["-qa", "--queryformat", &qf]));
    fs_err::write(out_sqlite.join("oracle.txt"), &oracle).unwrap();
    for (name, _) in SPECS {
        for pkg in [format!("caisson-{name}"), format!("caisson-{name}-data")] {
            let out = rpm_root(&["-ql", &pkg]).output().unwrap();
            if out.status.success() {
                fs_err::write(out_sqlite.join("ql").join(format!("{pkg}.txt")), out.stdout)
                    .unwrap();
            }
        }
    }
    // rpm checkpoints and removes the WAL when its last connection closes;
    // make sure the copied main file is complete.
    let dbdir = sysroot.join("var/lib/rpm");
    let wal = dbdir.join("rpmdb.sqlite-wal");
    assert!(
        !wal.exists() || fs_err::metadata(&wal).unwrap().len() == 0,
        "rpm left a non-empty WAL behind"
    );
    let sqlite = out_sqlite.join("rpmdb.sqlite");
    fs_err::copy(dbdir.join("rpmdb.sqlite"), &sqlite).unwrap();

    for (variant, args) in BDB_VARIANTS {
        let vdir = w.join("out/bdb").join(variant);
        fs_err::create_dir_all(&vdir).unwrap();
        run(Command::new("python3")
            .arg(fixture_script("write_bdb.py"))
            .arg(&sqlite)
            .arg(vdir.join("Packages"))
            .args(*args));
        // rpm's read-only Berkeley DB backend as the oracle for this file; it
        // works on a copy because rpm may create lock files next to it.
        let qdir = w.join("q").join(variant);
        fs_err::create_dir_all(&qdir).unwrap();
        fs_err::copy(vdir.join("Packages"), qdir.join("Packages")).unwrap();
        let oracle = run(Command::new("rpm").arg("--dbpath").arg(&qdir).args([
            "--define",
            "_db_backend bdb_ro",
            "-qa",
            "--queryformat",
            &qf,
        ]));
        fs_err::write(vdir.join("oracle.txt"), oracle).unwrap();
    }

    let wal_dir = w.join("out/wal");
    let alpha_record = parse_oracle(&out_sqlite.join("oracle.txt"))
        .iter()
        .find(|p| p.name == "caisson-alpha")
        .unwrap()
        .record;
    run(Command::new("python3")
        .arg(fixture_script("make_wal.py"))
        .arg(&sqlite)
        .arg(&wal_dir)
        .arg(alpha_record.to_string()));
    fs_err::remove_dir_all(wal_dir.join("work")).unwrap();
    let qdir = w.join("q/wal");
    fs_err::create_dir_all(&qdir).unwrap();
    for f in ["rpmdb.sqlite", "rpmdb.sqlite-wal"] {
        fs_err::copy(wal_dir.join("snapshot").join(f), qdir.join(f)).unwrap();
    }
    let oracle =
        run(Command::new("rpm")
            .arg("--dbpath")
            .arg(&qdir)
            .args(["-qa", "--queryformat", &qf]));
    fs_err::write(wal_dir.join("oracle.txt"), oracle).unwrap();

    fs_err::write(w.join("out/complete"), b"").unwrap();
    match fs_err::rename(w.join("out"), &dir) {
        Ok(()) => {}
        // Another test binary finished first; use its copy.
        Err(_) if dir.join("complete").exists() => {}
        Err(e) => panic!("installing fixtures: {e}"),
    }
    Fixtures { dir }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs_err::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A small deterministic PRNG (xorshift64*) for mutation tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
}
