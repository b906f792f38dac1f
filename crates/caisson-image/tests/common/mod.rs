//! Builds OCI image layouts on disk from raw layer bytes, for tests.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use caisson_oci::Digest;

/// A tar entry to write with raw (unvalidated) names, as a hostile archive would.
pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

fn raw_header(name: &str, ty: tar::EntryType, size: u64, link: &str) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    {
        let old = h.as_old_mut();
        let n = name.as_bytes();
        old.name[..n.len()].copy_from_slice(n);
        let l = link.as_bytes();
        old.linkname[..l.len()].copy_from_slice(l);
    }
    h.set_entry_type(ty);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    h
}

/// An uncompressed tar with the entries, names written verbatim.
pub fn tar(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Entry::File(p, data) => {
                let h = raw_header(p, tar::EntryType::Regular, data.len() as u64, "");
                b.append(&h, *data).expect("append file");
            }
            Entry::Dir(p) => {
                let h = raw_header(p, tar::EntryType::Directory, 0, "");
                b.append(&h, std::io::empty()).expect("append dir");
            }
            Entry::Symlink(p, t) => {
                let h = raw_header(p, tar::EntryType::Symlink, 0, t);
                b.append(&h, std::io::empty()).expect("append symlink");
            }
            Entry::Hardlink(p, t) => {
                let h = raw_header(p, tar::EntryType::Link, 0, t);
                b.append(&h, std::io::empty()).expect("append link");
            }
        }
    }
    b.into_inner().expect("finish tar")
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip finish")
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd")
}

fn put_blob(dir: &Path, bytes: &[u8]) -> Digest {
    let d = Digest::sha256(bytes);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p).expect("mkdir blobs");
    std::fs::write(p.join(d.hex()), bytes).expect("write blob");
    d
}

/// Writes an OCI layout at `dir` with one image tagged `tag`. `layers` are
/// (stored bytes, uncompressed tar bytes) pairs; diff ids are computed from the
/// uncompressed bytes as a real builder would.
pub fn oci_layout(dir: &Path, tag: &str, layers: &[(Vec<u8>, Vec<u8>)]) -> Digest {
    std::fs::create_dir_all(dir).expect("mkdir layout");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (stored, plain) in layers {
        let d = put_blob(dir, stored);
        layer_descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": d.to_string(), "size": stored.len()
        }));
        diff_ids.push(Digest::sha256(plain).to_string());
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {}
    });
    let config_bytes = serde_json::to_vec(&config).expect("config json");
    let cd = put_blob(dir, &config_bytes);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": config_bytes.len()},
        "layers": layer_descs
    });
    let mb = serde_json::to_vec(&manifest).expect("manifest json");
    let md = put_blob(dir, &mb);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md.to_string(), "size": mb.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }]
    });
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("index json"),
    )
    .expect("index");
    md
}
