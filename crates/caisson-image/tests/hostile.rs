//! Hostile and malformed images: each must give a clear error or a warning,
//! never a panic, never unbounded memory, never a read outside the image.

mod common;

use std::time::Instant;

use caisson_image::{scan, ImageError, Limits, Source, Squashed};
use common::{gzip, oci_layout, tar, Entry};

fn interest(path: &str) -> Option<u64> {
    (path.starts_with("/etc/") || path.starts_with("/var/lib/dpkg/")).then_some(1 << 20)
}

fn open_and_scan(dir: &std::path::Path, limits: &Limits) -> Result<Squashed, ImageError> {
    let src: Source = format!("oci:{}:t", dir.display()).parse()?;
    let img = src.open("test", None)?;
    scan(&img, &interest, limits)
}

fn text(s: &Squashed, p: &str) -> Option<String> {
    s.view()
        .read(p)
        .expect("no loop")
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
}

#[test]
fn dotdot_paths_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().expect("tmp");
    let layer = tar(&[
        Entry::File("../../etc/passwd", b"evil"),
        Entry::File("etc/../../../etc/shadow", b"evil"),
        Entry::File("./etc/os-release", b"ID=ok\n"),
    ]);
    oci_layout(dir.path(), "t", &[(gzip(&layer), layer)]);
    let s = open_and_scan(dir.path(), &Limits::default()).expect("scan succeeds");
    assert_eq!(text(&s, "/etc/os-release").as_deref(), Some("ID=ok\n"));
    assert_eq!(text(&s, "/etc/passwd"), None);
    assert_eq!(text(&s, "/etc/shadow"), None);
    let escapes = s
        .warnings
        .iter()
        .filter(|w| w.code == "tar-path-escapes-root")
        .count();
    assert_eq!(escapes, 2, "{:?}", s.warnings);
}

#[test]
fn absolute_symlinks_resolve_inside_the_image_and_loops_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let layer = tar(&[
        // Points at the host's /etc/hostname if followed naively.
        Entry::Symlink("etc/hostname", "/../../../../etc/passwd"),
        Entry::Symlink("etc/a", "b"),
        Entry::Symlink("etc/b", "/etc/a"),
        Entry::File("etc/real", b"inside"),
        Entry::Symlink("etc/os-release", "../../../etc/real"),
    ]);
    oci_layout(dir.path(), "t", &[(gzip(&layer), layer)]);
    let s = open_and_scan(dir.path(), &Limits::default()).expect("scan succeeds");
    let v = s.view();
    assert_eq!(
        v.read("/etc/hostname").expect("resolves"),
        None,
        "never reads the host's /etc/passwd"
    );
    assert_eq!(v.resolve("/etc/hostname").expect("resolves"), "/etc/passwd");
    assert!(v.read("/etc/a").is_err(), "symlink loop is an error");
    assert_eq!(text(&s, "/etc/os-release").as_deref(), Some("inside"));
}

#[test]
fn truncated_gzip_names_the_layer() {
    let dir = tempfile::tempdir().expect("tmp");
    let layer = tar(&[Entry::File("etc/os-release", &[b'x'; 100_000])]);
    let mut gz = gzip(&layer);
    gz.truncate(gz.len() / 2);
    oci_layout(dir.path(), "t", &[(gz, layer)]);
    let err = open_and_scan(dir.path(), &Limits::default()).expect_err("must fail");
    let msg = err.to_string();
    assert!(
        msg.contains("layer 0") && msg.contains("gzip stream is truncated or corrupt"),
        "{msg}"
    );
}

#[test]
fn corrupt_tar_header_is_an_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layer = tar(&[Entry::File("etc/os-release", b"ID=x\n")]);
    layer[148] ^= 0x55; // checksum field
    oci_layout(dir.path(), "t", &[(layer.clone(), layer)]);
    let err = open_and_scan(dir.path(), &Limits::default()).expect_err("must fail");
    assert!(
        err.to_string()
            .contains("tar stream is truncated or corrupt"),
        "{err}"
    );
}

#[test]
fn gzip_bomb_hits_the_ratio_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let zeros = vec![0u8; 64 << 20];
    let layer = tar(&[Entry::File("var/zeros", &zeros)]);
    let gz = gzip(&layer);
    oci_layout(dir.path(), "t", &[(gz, layer)]);
    let limits = Limits {
        ratio_grace_bytes: 4 << 20,
        max_compression_ratio: 100,
        ..Limits::default()
    };
    let err = open_and_scan(dir.path(), &limits).expect_err("bomb refused");
    assert!(
        matches!(err, ImageError::LimitExceeded { what, .. } if what.contains("ratio")),
        "{err}"
    );
    let limits = Limits {
        max_layer_bytes: 8 << 20,
        ..Limits::default()
    };
    let err = open_and_scan(dir.path(), &limits).expect_err("size limit");
    assert!(err.to_string().contains("--max-layer-size"), "{err}");
}

#[test]
fn oversized_interesting_file_is_skipped_and_hides_the_lower_copy() {
    let dir = tempfile::tempdir().expect("tmp");
    let l0 = tar(&[Entry::File("var/lib/dpkg/status", b"Package: old\n")]);
    let big = vec![b'a'; (1 << 20) + 1];
    let l1 = tar(&[Entry::File("var/lib/dpkg/status", &big)]);
    oci_layout(dir.path(), "t", &[(gzip(&l0), l0), (common::zstd(&l1), l1)]);
    let s = open_and_scan(dir.path(), &Limits::default()).expect("scan");
    assert_eq!(
        text(&s, "/var/lib/dpkg/status"),
        None,
        "stale lower copy must not resurface"
    );
    assert!(
        s.warnings.iter().any(|w| w.code == "file-too-large"),
        "{:?}",
        s.warnings
    );
}

#[test]
fn sparse_ten_gigabyte_file_costs_neither_time_nor_memory() {
    // GNU tar writes a real sparse entry; the reader must not materialise 10 GiB.
    let work = tempfile::tempdir().expect("tmp");
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("var/lib/dpkg")).expect("mkdir");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    std::fs::write(root.join("etc/os-release"), "ID=sparse\n").expect("write");
    for name in ["var/lib/dpkg/status", "var/huge"] {
        let f = std::fs::File::create(root.join(name)).expect("create");
        f.set_len(10 << 30).expect("sparse");
    }
    let layer_path = work.path().join("layer.tar");
    let st = std::process::Command::new("tar")
        .args(["--sparse", "-cf"])
        .arg(&layer_path)
        .arg("-C")
        .arg(&root)
        .args(["etc", "var"])
        .status()
        .expect("GNU tar runs");
    assert!(st.success());
    let layer = std::fs::read(&layer_path).expect("read layer");
    assert!(layer.len() < 1 << 20, "tar kept the file sparse");
    let dir = work.path().join("oci");
    oci_layout(&dir, "t", &[(layer.clone(), layer)]);
    let start = Instant::now();
    let s = open_and_scan(&dir, &Limits::default()).expect("scan");
    assert!(start.elapsed().as_secs() < 60);
    assert_eq!(text(&s, "/etc/os-release").as_deref(), Some("ID=sparse\n"));
    assert_eq!(text(&s, "/var/lib/dpkg/status"), None);
    assert!(s
        .warnings
        .iter()
        .any(|w| w.code == "file-too-large" && w.message.contains("/var/lib/dpkg/status")));
}

#[test]
fn missing_blob_and_bad_digest_are_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let layer = tar(&[Entry::File("etc/os-release", b"ID=x\n")]);
    let md = oci_layout(dir.path(), "t", &[(gzip(&layer), layer)]);
    // Corrupt the manifest blob: digest no longer matches.
    let mpath = dir.path().join("blobs/sha256").join(md.hex());
    let mut m = std::fs::read(&mpath).expect("read");
    m.push(b' ');
    std::fs::write(&mpath, m).expect("write");
    let err = open_and_scan(dir.path(), &Limits::default()).expect_err("must fail");
    assert!(err.to_string().contains("bytes, descriptor says"), "{err}");
    std::fs::remove_file(&mpath).expect("rm");
    let err = open_and_scan(dir.path(), &Limits::default()).expect_err("must fail");
    assert!(matches!(err, ImageError::MissingBlob { .. }), "{err}");
}

#[test]
fn unknown_tag_lists_available_tags() {
    let dir = tempfile::tempdir().expect("tmp");
    let layer = tar(&[Entry::File("etc/os-release", b"ID=x\n")]);
    oci_layout(dir.path(), "v1", &[(gzip(&layer), layer)]);
    let err = open_and_scan(dir.path(), &Limits::default()).expect_err("no tag t");
    assert!(
        err.to_string()
            .contains("no image tagged \"t\" (available: v1)"),
        "{err}"
    );
}

#[test]
fn dir_source_never_follows_symlinks_out_of_the_root() {
    let work = tempfile::tempdir().expect("tmp");
    let root = work.path().join("rootfs");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    let outside = work.path().join("secret");
    std::fs::write(&outside, "host secret").expect("write");
    std::os::unix::fs::symlink(&outside, root.join("etc/os-release")).expect("symlink");
    std::os::unix::fs::symlink("/", root.join("etc/hostroot")).expect("symlink");
    let src: Source = format!("dir:{}", root.display()).parse().expect("parse");
    let img = src.open("dir", None).expect("open");
    let s = scan(&img, &interest, &Limits::default()).expect("scan");
    assert_eq!(text(&s, "/etc/os-release"), None);
    assert_eq!(text(&s, "/etc/hostroot/etc/passwd"), None);
}

/// Keeps the first 8 bytes of every executable file, as a stand-in for a
/// binary metadata extractor.
struct HeadOfExecutables;

impl caisson_image::Extractor for HeadOfExecutables {
    fn name(&self) -> &'static str {
        "head8"
    }
    fn extract(
        &self,
        _path: &str,
        r: &mut dyn std::io::Read,
        _size: u64,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let mut b = [0u8; 8];
        let n = r.read(&mut b)?;
        Ok((n > 0).then(|| b[..n].to_vec()))
    }
}

struct ExecInterest;

impl caisson_image::Interest for ExecInterest {
    fn wants(&self, path: &str) -> Option<u64> {
        interest(path)
    }
    fn extractor(
        &self,
        _path: &str,
        mode: u32,
        _size: u64,
    ) -> Option<&dyn caisson_image::Extractor> {
        (mode & 0o111 != 0).then_some(&HeadOfExecutables as &dyn caisson_image::Extractor)
    }
}

#[test]
fn extractors_see_executables_and_whiteouts_remove_their_results() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut b = tar::Builder::new(Vec::new());
    for (p, mode, data) in [
        ("usr/bin/tool", 0o755, &b"\x7fELF-tool-binary"[..]),
        ("usr/bin/gone", 0o755, b"\x7fELF-gone"),
        ("usr/share/data", 0o644, b"not executable"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append_data(&mut h, p, data).expect("append");
    }
    let l0 = b.into_inner().expect("tar");
    let l1 = tar(&[Entry::File("usr/bin/.wh.gone", b"")]);
    oci_layout(dir.path(), "t", &[(gzip(&l0), l0), (gzip(&l1), l1)]);
    let src: Source = format!("oci:{}:t", dir.path().display())
        .parse()
        .expect("src");
    let img = src.open("t", None).expect("open");
    let s = scan(&img, &ExecInterest, &Limits::default()).expect("scan");
    let v = s.view();
    let tool = v.read("/usr/bin/tool").expect("ok").expect("extracted");
    assert_eq!(&tool.data[..], b"\x7fELF-too");
    assert_eq!(tool.extracted_by, Some("head8"));
    assert!(
        v.read("/usr/bin/gone").expect("ok").is_none(),
        "whiteout removes extracted data"
    );
    assert!(
        v.read("/usr/share/data").expect("ok").is_none(),
        "non-executables not extracted"
    );
}
