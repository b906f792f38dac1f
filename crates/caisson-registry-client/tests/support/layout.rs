//! Writes OCI image layouts by hand: real tar layers (gzip, zstd, plain),
//! configs with correct diff_ids, manifests and indexes.

use std::io::Write as _;
use std::path::Path;

use caisson_oci::Digest;
use serde_json::{json, Value};

pub const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

pub struct Layout<'a> {
    pub dir: &'a Path,
}

/// A tar archive of `files` (path, contents).
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, path, *data).expect("tar append");
    }
    b.into_inner().expect("tar finish")
}

pub fn compress(media_type: &str, tar: &[u8]) -> Vec<u8> {
    match media_type {
        GZIP => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(tar).expect("gzip");
            e.finish().expect("gzip finish")
        }
        ZSTD => zstd::encode_all(tar, 3).expect("zstd"),
        _ => tar.to_vec(),
    }
}

impl Layout<'_> {
    pub fn init(dir: &Path) -> Layout<'_> {
        fs_err::create_dir_all(dir.join("blobs/sha256")).expect("layout dirs");
        fs_err::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("oci-layout");
        Layout { dir }
    }

    /// Stores `bytes` as a blob; returns its descriptor.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> Value {
        let d = Digest::sha256(bytes);
        fs_err::write(self.dir.join("blobs/sha256").join(d.hex()), bytes).expect("blob");
        json!({"mediaType": media_type, "digest": d.to_string(), "size": bytes.len()})
    }

    /// An image for `os/arch[/variant]` with one layer per media type in
    /// `layer_types`, each holding a file that names the platform.
    pub fn image(&self, platform: &str, layer_types: &[&str]) -> Value {
        let mut parts = platform.split('/');
        let os = parts.next().expect("os");
        let arch = parts.next().expect("arch");
        let variant = parts.next();
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for (i, mt) in layer_types.iter().enumerate() {
            let content = format!("layer {i} for {platform}\n").repeat(200 * (i + 1));
            let name = format!("etc/layer{i}.txt");
            let tar = tar_of(&[(name.as_str(), content.as_bytes())]);
            diff_ids.push(Digest::sha256(&tar).to_string());
            layers.push(self.blob(mt, &compress(mt, &tar)));
        }
        let mut config = json!({
            "architecture": arch,
            "os": os,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {"Env": ["PATH=/usr/bin"]},
        });
        if let Some(v) = variant {
            config["variant"] = v.into();
        }
        let config_desc = self.blob(
            "application/vnd.oci.image.config.v1+json",
            config.to_string().as_bytes(),
        );
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": layers,
        });
        let mut desc = self.blob(
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().as_bytes(),
        );
        let mut plat = json!({"os": os, "architecture": arch});
        if let Some(v) = variant {
            plat["variant"] = v.into();
        }
        desc["platform"] = plat;
        desc
    }

    /// An index of `manifests`, stored as a blob.
    pub fn index(&self, manifests: Vec<Value>) -> Value {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        self.blob(
            "application/vnd.oci.image.index.v1+json",
            index.to_string().as_bytes(),
        )
    }

    /// Writes `index.json` naming `desc` as `tag`.
    pub fn tag(&self, tag: &str, desc: &Value) {
        let mut d = desc.clone();
        if let Some(o) = d.as_object_mut() {
            o.remove("platform");
        }
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let index = json!({"schemaVersion": 2, "manifests": [d]});
        fs_err::write(self.dir.join("index.json"), index.to_string()).expect("index.json");
    }
}
