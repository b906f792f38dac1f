//! CycloneDX JSON 1.4–1.7.
//!
//! Packages are the components with a purl, at any depth of nested
//! `components` (including under `metadata.component`); the OS is the first
//! `operating-system` component. Properties that tools add are used where
//! present:
//!
//! | property | becomes |
//! | --- | --- |
//! | `caisson:package:*`, `caisson:layer:*`, `caisson:location:path` | the package exactly as Caisson wrote it |
//! | `caisson:image:*`, `caisson:source:kind`, `caisson:os:*`, `caisson:warning` | source, OS and recorded warnings |
//! | `syft:metadata:source`, `sourceVersion`, `originPackage`, `sourceRpm` | source package |
//! | `syft:location:N:path` | locations |
//! | `syft:distro:versionCodename`, `idLike:N` | OS codename, `ID_LIKE` |
//! | `aquasecurity:trivy:SrcName`, `SrcVersion`, `SrcRelease`, `SrcEpoch` | source package |
//! | `aquasecurity:trivy:ImageID`, `RepoTag`, `RepoDigest` on the image | source |
//!
//! Layers: Caisson's documents list the image's layers in order, so packages
//! get their layer back. syft records only a location's layer, and trivy sorts
//! its `DiffID` properties by value, so neither gives a layer's index and their
//! packages have no layer.
//!
//! CycloneDX 1.7 (which trivy writes) is read too: nothing used here changed.

use caisson_model::{OsRelease, PackageType, Sbom, SourceInfo, Warning};
use serde_json::{Map, Value};

use super::json::{At, Doc};
use super::{package_type, Builder, Entry, ReadError, MAX_COMPONENTS, MAX_DEPTH};

const DOC: Doc = Doc {
    format: "CycloneDX",
};

type Props<'a> = [(&'a str, &'a str)];

fn prop<'a>(props: &Props<'a>, name: &str) -> Option<&'a str> {
    props.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn props_all<'a>(props: &'a Props<'a>, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    props
        .iter()
        .filter(move |(n, _)| *n == name)
        .map(|(_, v)| *v)
}

/// `prefix<N>suffix` properties (`syft:location:0:path`) in the order of N.
fn numbered<'a>(props: &Props<'a>, prefix: &str, suffix: &str) -> Vec<&'a str> {
    let mut v: Vec<(u64, &str)> = props
        .iter()
        .filter_map(|(n, val)| {
            let i = n.strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok()?;
            Some((i, *val))
        })
        .collect();
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, val)| val).collect()
}

pub(crate) fn read(top: &Map<String, Value>) -> Result<(Sbom, Vec<Warning>), ReadError> {
    let root = At::Root;
    match DOC.opt_str(top, "bomFormat", &root)? {
        Some("CycloneDX") => {}
        other => {
            return Err(ReadError::NotAnSbom(format!(
                "bomFormat is {}, not \"CycloneDX\"",
                other.map_or_else(|| "null".to_string(), |s| format!("\"{s}\""))
            )))
        }
    }
    let spec = DOC
        .opt_str(top, "specVersion", &root)?
        .ok_or_else(|| ReadError::NotAnSbom("CycloneDX document without specVersion".into()))?;
    if !matches!(spec, "1.4" | "1.5" | "1.6" | "1.7") {
        return Err(ReadError::CycloneDxVersion(spec.to_string()));
    }

    let mut b = Builder::default();
    let mut walk = Walk {
        b: &mut b,
        os: None,
        count: 0,
    };
    let mut source = SourceInfo {
        kind: "sbom".into(),
        ..SourceInfo::default()
    };
    let mut recorded = Vec::new();
    let at_meta = root.key("metadata");
    if let Some(meta) = DOC.opt_obj(top, "metadata", &root)? {
        for (n, v) in DOC.properties(meta, &at_meta)? {
            if n == "caisson:warning" {
                let (code, message) = v.split_once(": ").unwrap_or(("sbom-warning", v));
                recorded.push(Warning {
                    code: code.to_string(),
                    message: message.to_string(),
                });
            }
        }
        let at = at_meta.key("component");
        if let Some(c) = DOC.opt_obj(meta, "component", &at_meta)? {
            image_source(c, &at, &mut source)?;
            walk.b.layers = source
                .layers
                .iter()
                .map(|l| (l.diff_id.clone(), l.index))
                .collect();
            walk.list(DOC.arr(c, "components", &at)?, &at.key("components"), 1)?;
        }
    }
    walk.list(
        DOC.arr(top, "components", &root)?,
        &root.key("components"),
        1,
    )?;
    let os = walk.os.take();
    Ok(b.finish(source, os, recorded))
}

struct Walk<'b> {
    b: &'b mut Builder,
    os: Option<OsRelease>,
    count: usize,
}

impl Walk<'_> {
    fn list(&mut self, list: &[Value], at: &At<'_>, depth: usize) -> Result<(), ReadError> {
        if list.is_empty() {
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(ReadError::TooDeep {
                format: DOC.format,
                path: at.to_string(),
                limit: MAX_DEPTH,
            });
        }
        self.count = self.count.saturating_add(list.len());
        if self.count > MAX_COMPONENTS {
            return Err(ReadError::TooMany {
                format: DOC.format,
                what: "components",
                limit: MAX_COMPONENTS,
            });
        }
        for (i, v) in list.iter().enumerate() {
            let at = at.index(i);
            let c = DOC.obj(v, &at)?;
            self.component(c, &at)?;
            self.list(
                DOC.arr(c, "components", &at)?,
                &at.key("components"),
                depth + 1,
            )?;
        }
        Ok(())
    }

    fn component(&mut self, c: &Map<String, Value>, at: &At<'_>) -> Result<(), ReadError> {
        let ty = DOC.opt_str(c, "type", at)?;
        let props = DOC.properties(c, at)?;
        let name = DOC.opt_str(c, "name", at)?;
        let version = DOC.opt_str(c, "version", at)?;
        if ty == Some("operating-system") {
            if self.os.is_none() {
                self.os = Some(os_component(c, at, name, version, &props)?);
            }
            return Ok(());
        }
        let purl = DOC.opt_str(c, "purl", at)?.unwrap_or("");
        let caisson_type = prop(&props, "caisson:package:type").and_then(package_type);
        if purl.is_empty() && caisson_type.is_none() {
            if !matches!(ty, Some("file" | "container")) {
                let what = format!("{} `{}`", ty.unwrap_or("component"), name.unwrap_or(""));
                self.b.warn("component-without-purl", || {
                    format!(
                        "skipped {what} at {at}: it has no purl to say what kind of package it is"
                    )
                });
            }
            return Ok(());
        }
        let mut e = Entry {
            purl,
            name,
            version,
            caisson_type,
            ..Entry::default()
        };
        e.licenses = licenses(c, at)?;
        e.supplier = match DOC.opt_str(c, "publisher", at)? {
            Some(p) => Some(p.to_string()),
            None => match DOC.opt_obj(c, "supplier", at)? {
                Some(s) => DOC
                    .opt_str(s, "name", &at.key("supplier"))?
                    .map(str::to_string),
                None => None,
            },
        };
        let at_h = at.key("hashes");
        for (i, h) in DOC.arr(c, "hashes", at)?.iter().enumerate() {
            let at = at_h.index(i);
            let h = DOC.obj(h, &at)?;
            if let (Some(alg), Some(hex)) =
                (DOC.opt_str(h, "alg", &at)?, DOC.opt_str(h, "content", &at)?)
            {
                let alg = alg.to_ascii_lowercase().replace('-', "");
                e.digests
                    .push(format!("{alg}:{}", hex.to_ascii_lowercase()));
            }
        }
        if caisson_type.is_some() {
            e.id = DOC.opt_str(c, "bom-ref", at)?;
            self.caisson_props(&mut e, &props, at);
        } else {
            syft_props(&mut e, &props);
            trivy_props(&mut e, &props);
        }
        self.b.add(e);
        Ok(())
    }

    fn caisson_props<'a>(&mut self, e: &mut Entry<'a>, props: &Props<'a>, at: &At<'_>) {
        e.arch = prop(props, "caisson:package:arch").map(str::to_string);
        if let Some(ep) = prop(props, "caisson:package:epoch") {
            match ep.parse() {
                Ok(n) => e.epoch = Some(n),
                Err(_) => self.b.warn("epoch-invalid", || {
                    format!("{at}: epoch `{ep}` is not a number; ignored")
                }),
            }
        }
        e.source_name = prop(props, "caisson:package:sourceName").map(str::to_string);
        e.source_version = prop(props, "caisson:package:sourceVersion").map(str::to_string);
        e.owned_by = prop(props, "caisson:package:ownedBy").map(str::to_string);
        e.layer_index = prop(props, "caisson:layer:index").and_then(|i| i.parse().ok());
        e.layer_diff_id = prop(props, "caisson:layer:diffID").map(str::to_string);
        e.locations = props_all(props, "caisson:location:path")
            .map(str::to_string)
            .collect();
    }
}

/// The purl type, read cheaply: `pkg:deb/…` → `deb`.
fn purl_type(purl: &str) -> Option<PackageType> {
    let rest = purl.get(..4).filter(|s| s.eq_ignore_ascii_case("pkg:"))?;
    let ty = purl
        .get(rest.len()..)?
        .trim_start_matches('/')
        .split('/')
        .next()?;
    package_type(&ty.to_ascii_lowercase())
}

fn syft_props<'a>(e: &mut Entry<'a>, props: &Props<'a>) {
    let src = match purl_type(e.purl) {
        Some(PackageType::Apk) => prop(props, "syft:metadata:originPackage").map(str::to_string),
        Some(PackageType::Rpm) => prop(props, "syft:metadata:sourceRpm")
            .map(|s| super::srpm_name(s).unwrap_or(s).to_string()),
        Some(PackageType::Deb) => prop(props, "syft:metadata:source").map(str::to_string),
        _ => None,
    };
    if let Some(s) = src.filter(|s| !s.is_empty()) {
        e.source_name = Some(s);
        if purl_type(e.purl) == Some(PackageType::Deb) {
            e.source_version = prop(props, "syft:metadata:sourceVersion")
                .filter(|v| !v.is_empty())
                .map(str::to_string);
        }
    }
    let locations = numbered(props, "syft:location:", ":path");
    if !locations.is_empty() {
        e.locations = locations.into_iter().map(str::to_string).collect();
    }
}

fn trivy_props<'a>(e: &mut Entry<'a>, props: &Props<'a>) {
    const P: &str = "aquasecurity:trivy:";
    let get = |k: &str| {
        props
            .iter()
            .find(|(n, _)| n.strip_prefix(P) == Some(k))
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
    };
    let ty = purl_type(e.purl);
    let Some(name) = get("SrcName").filter(|_| ty.is_some_and(PackageType::is_os)) else {
        return;
    };
    e.source_name = Some(name.to_string());
    let Some(v) = get("SrcVersion") else { return };
    let mut version = match get("SrcRelease") {
        Some(r) => format!("{v}-{r}"),
        None => v.to_string(),
    };
    // The model keeps an rpm epoch apart; a dpkg source version includes it.
    if let (Some(ep), Some(PackageType::Deb)) = (get("SrcEpoch"), ty) {
        version = format!("{ep}:{version}");
    }
    e.source_version = Some(version);
}

fn licenses(c: &Map<String, Value>, at: &At<'_>) -> Result<Vec<String>, ReadError> {
    let mut out = Vec::new();
    let at_l = at.key("licenses");
    for (i, l) in DOC.arr(c, "licenses", at)?.iter().enumerate() {
        let at = at_l.index(i);
        let l = DOC.obj(l, &at)?;
        if let Some(x) = DOC.opt_str(l, "expression", &at)? {
            out.push(x.to_string());
        } else if let Some(lic) = DOC.opt_obj(l, "license", &at)? {
            let at = at.key("license");
            if let Some(s) = DOC
                .opt_str(lic, "id", &at)?
                .or(DOC.opt_str(lic, "name", &at)?)
            {
                out.push(s.to_string());
            }
        }
    }
    Ok(out)
}

fn os_component(
    c: &Map<String, Value>,
    at: &At<'_>,
    name: Option<&str>,
    version: Option<&str>,
    props: &Props<'_>,
) -> Result<OsRelease, ReadError> {
    let mut os = OsRelease {
        id: name
            .or(prop(props, "syft:distro:id"))
            .unwrap_or_default()
            .to_string(),
        version_id: version
            .or(prop(props, "syft:distro:versionID"))
            .map(str::to_string),
        pretty_name: DOC
            .opt_str(c, "description", at)?
            .or(prop(props, "syft:distro:prettyName"))
            .map(str::to_string),
        codename: prop(props, "caisson:os:codename")
            .or(prop(props, "syft:distro:versionCodename"))
            .map(str::to_string),
        id_like: props_all(props, "caisson:os:idLike")
            .map(str::to_string)
            .collect(),
    };
    if os.id_like.is_empty() {
        os.id_like = numbered(props, "syft:distro:idLike:", "")
            .into_iter()
            .map(str::to_string)
            .collect();
    }
    Ok(os)
}

/// `metadata.component`: the image (or whatever the document describes).
fn image_source(c: &Map<String, Value>, at: &At<'_>, s: &mut SourceInfo) -> Result<(), ReadError> {
    let props = DOC.properties(c, at)?;
    s.reference = DOC.opt_str(c, "name", at)?.unwrap_or_default().to_string();
    s.manifest_digest = DOC
        .opt_str(c, "version", at)?
        .filter(|v| v.starts_with("sha256:"))
        .map(str::to_string);
    if let Some(k) = prop(&props, "caisson:source:kind") {
        s.kind = k.to_string();
    }
    s.config_digest = prop(&props, "caisson:image:configDigest")
        .or(prop(&props, "aquasecurity:trivy:ImageID"))
        .map(str::to_string);
    s.platform = prop(&props, "caisson:image:platform").map(str::to_string);
    s.tags = props_all(&props, "caisson:image:tag")
        .chain(props_all(&props, "aquasecurity:trivy:RepoTag"))
        .map(str::to_string)
        .collect();
    if s.manifest_digest.is_none() {
        s.manifest_digest = prop(&props, "aquasecurity:trivy:RepoDigest")
            .and_then(|d| d.rsplit_once('@'))
            .map(|(_, d)| d.to_string());
    }
    let mut layers: Vec<(usize, &str)> = props
        .iter()
        .filter_map(|(n, v)| {
            let i = n
                .strip_prefix("caisson:image:layer:")?
                .strip_suffix(":diffID")?
                .parse()
                .ok()?;
            Some((i, *v))
        })
        .collect();
    // trivy's `DiffID` properties are sorted by value, not in layer order, so
    // they cannot give layer indices: trivy's packages get no layer.
    layers.sort_by_key(|(i, _)| *i);
    s.layers = layers
        .into_iter()
        .map(|(index, d)| caisson_model::LayerRef {
            index,
            diff_id: d.to_string(),
        })
        .collect();
    Ok(())
}
