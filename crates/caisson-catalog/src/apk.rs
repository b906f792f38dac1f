//! apk-tools: `/lib/apk/db/installed` (`X:value` lines, blank-line separated).

use caisson_image::Vfs;
use caisson_model::{OsRelease, Package, PackageType, Purl, Warning};

use crate::Found;

const INSTALLED: &str = "/lib/apk/db/installed";

pub fn wants(path: &str) -> bool {
    path == INSTALLED
}

#[derive(Default)]
struct Entry {
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    origin: Option<String>,
    license: Option<String>,
    maintainer: Option<String>,
    files: Vec<String>,
    dir: String,
    line: usize,
}

fn finish(e: Entry, os: Option<&OsRelease>, path: &str, found: &mut Found) {
    let (Some(name), Some(version)) = (e.name, e.version) else {
        found.warnings.push(Warning {
            code: "apk-db-malformed".into(),
            message: format!("{path}: entry at line {} has no P: or V:; skipped", e.line),
        });
        return;
    };
    let mut purl = Purl::new("apk", &name)
        .namespace(os.map_or("alpine", |o| o.id.as_str()))
        .version(&version);
    if let Some(a) = &e.arch {
        purl = purl.qualifier("arch", a);
    }
    if let Some(o) = os {
        purl = purl.qualifier("distro", &o.distro_qualifier());
    }
    if let Some(origin) = e.origin.as_ref().filter(|o| **o != name) {
        purl = purl.qualifier("upstream", origin);
    }
    found.packages.push(Package {
        id: String::new(),
        package_type: PackageType::Apk,
        source_name: Some(e.origin.unwrap_or_else(|| name.clone())),
        source_version: Some(version.clone()),
        name,
        version,
        epoch: None,
        arch: e.arch,
        licenses: e.license.into_iter().collect(),
        supplier: e.maintainer,
        purl: purl.to_string(),
        layer: None,
        locations: vec![path.to_string()],
        files: e.files,
        owned_by: None,
        digests: Vec::new(),
    });
}

pub fn catalog(vfs: &Vfs, os: Option<&OsRelease>, found: &mut Found) {
    let Ok(Some(db)) = vfs.read(INSTALLED) else {
        return;
    };
    let text = String::from_utf8_lossy(&db.data);
    let mut cur: Option<Entry> = None;
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            if let Some(e) = cur.take() {
                finish(e, os, &db.path, found);
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            found.warnings.push(Warning {
                code: "apk-db-malformed".into(),
                message: format!("{}: line {}: expected `X:value`", db.path, i + 1),
            });
            continue;
        };
        let e = cur.get_or_insert_with(|| Entry {
            line: i + 1,
            ..Entry::default()
        });
        let v = v.to_string();
        match k {
            "P" => e.name = Some(v),
            "V" => e.version = Some(v),
            "A" => e.arch = Some(v),
            "o" => e.origin = Some(v),
            "L" => e.license = Some(v).filter(|s| !s.is_empty()),
            "m" => e.maintainer = Some(v).filter(|s| !s.is_empty()),
            "F" => e.dir = v,
            "R" => e.files.push(if e.dir.is_empty() {
                format!("/{v}")
            } else {
                format!("/{}/{v}", e.dir)
            }),
            _ => {}
        }
    }
    if let Some(e) = cur {
        finish(e, os, &db.path, found);
    }
}
