//! `scan_many`: several interests served by one pass over the layers see
//! exactly what each sees on its own pass (same views, warnings, extractor
//! inputs), whether one, several or none of them read a file's bytes, and
//! whichever of them has a read limit.

mod common;

use std::io::Read;
use std::sync::Mutex;

use caisson_image::{scan, scan_bytes, scan_bytes_many, scan_many, Extractor, Interest, Limits};
use common::{gzip, oci_layout};

/// A layer: (path, mode, contents) regular files, then whiteouts and symlinks.
fn layer(files: &[(&str, u32, Vec<u8>)], whiteouts: &[&str], links: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, mode, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_cksum();
        b.append_data(&mut h, p, data.as_slice()).expect("append");
    }
    for w in whiteouts {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, w, std::io::empty())
            .expect("append whiteout");
    }
    for (p, t) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, p, t).expect("append symlink");
    }
    b.into_inner().expect("tar")
}

/// Text that differs per byte position, so a wrong offset shows.
fn text(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i as u8).wrapping_mul(7).wrapping_add(seed)) % 26)
        .collect()
}

fn layers() -> Vec<Vec<u8>> {
    let l0 = layer(
        &[
            ("etc/os-release", 0o644, b"ID=test\n".to_vec()),
            ("etc/app.conf", 0o644, text(1, 300)),
            ("etc/big.conf", 0o644, text(2, 5000)),
            (
                "usr/bin/tool",
                0o755,
                [b"\x7fELF".to_vec(), text(3, 20_000)].concat(),
            ),
            (
                "usr/bin/small",
                0o755,
                [b"\x7fELF".to_vec(), text(4, 40)].concat(),
            ),
            ("usr/sbin/su", 0o4755, text(5, 100)),
            ("srv/notes.txt", 0o644, text(6, 90)),
            ("srv/gone.txt", 0o644, text(7, 50)),
        ],
        &[],
        &[("etc/link.conf", "app.conf")],
    );
    let l1 = layer(
        &[
            ("etc/app.conf", 0o644, text(8, 120)),
            ("opt/run.sh", 0o755, text(9, 3000)),
        ],
        &["srv/.wh.gone.txt"],
        &[],
    );
    vec![l0, l1]
}

/// Captures `/etc/*.conf` up to 1 KiB (so `big.conf` is too large) and hands
/// executables to an extractor that reads them whole (no read limit).
struct Catalog;
/// Sums every byte of the file it is given.
struct WholeSum(&'static str);

impl Extractor for WholeSum {
    fn name(&self) -> &'static str {
        self.0
    }
    fn extract(&self, _: &str, r: &mut dyn Read, size: u64) -> std::io::Result<Option<Vec<u8>>> {
        let mut all = Vec::new();
        r.read_to_end(&mut all)?;
        assert_eq!(
            all.len() as u64,
            size,
            "an unbounded extractor sees the whole file"
        );
        let sum: u64 = all.iter().map(|&b| u64::from(b)).sum();
        Ok(Some(format!("{}:{sum}", all.len()).into_bytes()))
    }
}

impl Interest for Catalog {
    fn wants(&self, path: &str) -> Option<u64> {
        (path.starts_with("/etc/") && (path.ends_with(".conf") || path.ends_with("os-release")))
            .then_some(1024)
    }
    fn extractor(&self, _: &str, mode: u32, _: u64) -> Option<&dyn Extractor> {
        (mode & 0o111 != 0).then_some(&WholeSum("sum") as &dyn Extractor)
    }
}

/// Reads every regular file up to 200 bytes (larger ones not at all), records
/// what it saw per layer, and leaves a marker for set-uid files only.
#[derive(Default)]
struct Scanner {
    seen: Mutex<Vec<(usize, String, Vec<u8>)>>,
}
struct ScanEx<'a>(&'a Scanner);

impl Extractor for ScanEx<'_> {
    fn name(&self) -> &'static str {
        "scan"
    }
    fn extract(&self, p: &str, r: &mut dyn Read, s: u64) -> std::io::Result<Option<Vec<u8>>> {
        self.extract_in_layer(0, p, r, s)
    }
    fn extract_in_layer(
        &self,
        layer: usize,
        path: &str,
        r: &mut dyn Read,
        size: u64,
    ) -> std::io::Result<Option<Vec<u8>>> {
        if size > 200 {
            return Ok(None);
        }
        let mut all = Vec::new();
        r.take(201).read_to_end(&mut all)?;
        self.0
            .seen
            .lock()
            .expect("lock")
            .push((layer, path.to_string(), all));
        Ok(path.contains("/sbin/").then(|| b"s".to_vec()))
    }
    fn read_limit(&self, _: &str, size: u64) -> Option<u64> {
        Some(if size > 200 { 0 } else { 200 })
    }
}

/// The scanner as an interest (owns its extractor through a reference).
struct ScanInterest<'a>(ScanEx<'a>);

impl Interest for ScanInterest<'_> {
    fn wants(&self, _: &str) -> Option<u64> {
        None
    }
    fn extractor(&self, _: &str, _: u32, _: u64) -> Option<&dyn Extractor> {
        Some(&self.0)
    }
}

/// A second interest with an unbounded extractor on executables, and a
/// capture of the one text file the scanner also reads.
struct Second;

impl Interest for Second {
    fn wants(&self, path: &str) -> Option<u64> {
        (path == "/srv/notes.txt").then_some(1 << 20)
    }
    fn extractor(&self, _: &str, mode: u32, _: u64) -> Option<&dyn Extractor> {
        (mode & 0o111 != 0).then_some(&WholeSum("sum2") as &dyn Extractor)
    }
}

fn sorted(s: &Scanner) -> Vec<(usize, String, Vec<u8>)> {
    let mut v = s.seen.lock().expect("lock").clone();
    v.sort();
    v
}

#[test]
fn one_pass_for_several_interests_equals_one_pass_each() {
    let ls = layers();
    let refs: Vec<&[u8]> = ls.iter().map(Vec::as_slice).collect();
    let limits = Limits::default();

    let alone = Scanner::default();
    let separate = [
        scan_bytes(&refs, &Catalog, &limits).expect("catalog alone"),
        scan_bytes(&refs, &ScanInterest(ScanEx(&alone)), &limits).expect("scanner alone"),
        scan_bytes(&refs, &Second, &limits).expect("second alone"),
    ];
    let together = Scanner::default();
    let shared = scan_bytes_many(
        &refs,
        &[&Catalog, &ScanInterest(ScanEx(&together)), &Second],
        &limits,
    )
    .expect("shared pass");

    assert_eq!(shared.len(), 3);
    for (i, (a, b)) in separate.iter().zip(&shared).enumerate() {
        assert_eq!(a.snapshots, b.snapshots, "interest {i}: views differ");
        assert_eq!(a.warnings, b.warnings, "interest {i}: warnings differ");
        assert_eq!(a.entries, b.entries, "interest {i}: entry counts differ");
    }
    assert_eq!(
        sorted(&alone),
        sorted(&together),
        "the scanner saw other bytes"
    );

    // The cases the test is meant to cover did occur.
    let cat = shared[0].view();
    let tool = cat.read("/usr/bin/tool").expect("ok").expect("extracted");
    assert_eq!(tool.extracted_by, Some("sum"));
    assert!(
        tool.data.starts_with(b"20004:"),
        "whole 20,004-byte binary read"
    );
    let conf = cat.read("/etc/link.conf").expect("ok").expect("captured");
    assert_eq!(
        &conf.data[..],
        &text(8, 120)[..],
        "upper layer's file, via symlink"
    );
    assert!(shared[0]
        .warnings
        .iter()
        .any(|w| w.code == "file-too-large" && w.message.contains("/etc/big.conf")));
    let seen = sorted(&together);
    let paths: Vec<&str> = seen.iter().map(|(_, p, _)| p.as_str()).collect();
    assert!(
        paths.contains(&"/etc/app.conf"),
        "read alongside the capture"
    );
    assert!(
        paths.contains(&"/usr/bin/small"),
        "read alongside two unbounded extractors"
    );
    assert!(
        paths.contains(&"/srv/gone.txt"),
        "deleted later, still seen in its layer"
    );
    assert!(
        !paths.contains(&"/usr/bin/tool"),
        "over the scanner's limit"
    );
    let su = shared[1].view();
    assert!(
        su.read("/usr/sbin/su").expect("ok").is_some(),
        "marker kept"
    );
    assert!(
        su.read("/srv/gone.txt").expect("ok").is_none(),
        "whiteouts apply"
    );
    let notes = shared[2].view();
    assert_eq!(
        &notes
            .read("/srv/notes.txt")
            .expect("ok")
            .expect("captured")
            .data[..],
        &text(6, 90)[..]
    );
}

#[test]
fn scan_many_over_an_image_equals_scan_per_interest() {
    let dir = tempfile::tempdir().expect("tmp");
    let ls = layers();
    let blobs: Vec<(Vec<u8>, Vec<u8>)> = ls.iter().map(|l| (gzip(l), l.clone())).collect();
    oci_layout(dir.path(), "t", &blobs);
    let src: caisson_image::Source = format!("oci:{}:t", dir.path().display())
        .parse()
        .expect("src");
    let img = src.open("t", None).expect("open");
    let limits = Limits::default();
    let alone = Scanner::default();
    let a = scan(&img, &Catalog, &limits).expect("catalog alone");
    let b = scan(&img, &ScanInterest(ScanEx(&alone)), &limits).expect("scanner alone");
    let together = Scanner::default();
    let shared =
        scan_many(&img, &[&Catalog, &ScanInterest(ScanEx(&together))], &limits).expect("shared");
    assert_eq!(shared.len(), 2);
    assert_eq!(a.snapshots, shared[0].snapshots);
    assert_eq!(a.warnings, shared[0].warnings);
    assert_eq!(b.snapshots, shared[1].snapshots);
    assert_eq!(b.warnings, shared[1].warnings);
    assert_eq!(sorted(&alone), sorted(&together));
    assert_eq!(
        sorted(&together).len(),
        6,
        "every file of at most 200 bytes, per layer"
    );
}
