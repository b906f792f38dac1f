//! `caisson sbom` over the `lang-python-node` fixture (built by
//! `scripts/fixtures`, see scripts/fixtures.d/lang-python-node.fixture.sh),
//! compared with syft and trivy and with pip's and npm's own listings.
//!
//! The tools read different files per mode: syft and trivy on an image read
//! installed metadata only (dist-info, node_modules package.json, gemspecs,
//! installed.json; trivy also deps.json); lockfiles are read by `syft dir:`
//! (`syft-rootfs.cdx.json`) and `trivy fs` (`trivy-fs.cdx.json`). Caisson
//! reads both kinds from the image, so it is compared with the union. Every
//! difference is listed below with its reason; anything else fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const FIXTURE: &str = "lang-python-node";
const LANG_TYPES: [&str; 5] = ["pypi", "npm", "gem", "composer", "nuget"];

fn fixtures_root() -> Option<PathBuf> {
    caisson_testsupport::fixture(FIXTURE).map(|(root, _)| root)
}

fn sbom(root: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .current_dir(root)
        .args(["sbom", &format!("oci:{FIXTURE}/oci:lang"), "-f", "json"])
        .output()
        .expect("caisson runs");
    assert!(
        out.status.success(),
        "caisson sbom failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

type Row = (String, String, String); // purl type, name as the ecosystem compares it, version

/// `pkg:npm/%40babel/x@1.0?q` → ("npm", "@babel/x", "1.0"); PyPI names PEP 503-normalised.
fn row(purl: &str) -> Option<Row> {
    let rest = purl.strip_prefix("pkg:")?;
    let rest = rest.split(['?', '#']).next()?;
    let (ty, rest) = rest.split_once('/')?;
    if !LANG_TYPES.contains(&ty) {
        return None;
    }
    let (name, version) = rest.rsplit_once('@')?;
    let mut name = name.replace("%40", "@");
    if ty == "pypi" {
        name = name.to_lowercase().replace(['_', '.'], "-");
    }
    Some((ty.to_string(), name, version.replace("%2B", "+")))
}

fn ours(doc: &Value) -> BTreeSet<Row> {
    packages(doc)
        .filter_map(|p| row(p["purl"].as_str()?))
        .collect()
}

fn packages(doc: &Value) -> impl Iterator<Item = &Value> {
    doc["packages"].as_array().expect("packages").iter()
}

/// Language components of a CycloneDX document, with their layer diff id if recorded.
fn cdx(root: &Path, file: &str) -> BTreeMap<Row, Option<String>> {
    let path = root.join(FIXTURE).join(file);
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).expect("cdx file")).expect("cdx");
    let mut out = BTreeMap::new();
    for c in doc["components"].as_array().into_iter().flatten() {
        let Some(r) = c["purl"].as_str().and_then(row) else {
            continue;
        };
        let layer = c["properties"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|p| {
                let n = p["name"].as_str()?;
                (n == "aquasecurity:trivy:LayerDiffID" || n == "syft:location:0:layerID")
                    .then(|| p["value"].as_str().map(str::to_string))?
            });
        out.insert(r, layer);
    }
    out
}

fn r(ty: &str, name: &str, version: &str) -> Row {
    (ty.into(), name.into(), version.into())
}

#[test]
fn language_packages_match_syft_and_trivy_with_named_exceptions() {
    let Some(root) = fixtures_root() else { return };
    let doc = sbom(&root);
    let ours = ours(&doc);
    let syft_image = cdx(&root, "syft.cdx.json");
    let trivy_image = cdx(&root, "trivy.cdx.json");
    let syft_dir = cdx(&root, "syft-rootfs.cdx.json");
    let trivy_fs = cdx(&root, "trivy-fs.cdx.json");
    assert!(ours.len() > 100, "{}", ours.len());

    // Packages a tool reports that caisson does not, and why.
    let not_ours: BTreeMap<(&str, Row), &str> = BTreeMap::from([
        (
            ("trivy", r("nuget", "MyApp", "1.0.0")),
            "trivy lists the deps.json `project` library (the application itself); \
             caisson lists only `package` libraries, which are NuGet packages",
        ),
        (
            ("syft", r("nuget", "MyApp", "1.0.0")),
            "syft dir lists the deps.json `project` library too (same reason as trivy)",
        ),
        (
            ("trivy", r("pypi", "py-app", "0.1.0")),
            "trivy fs lists uv.lock's own project (`source = { virtual = \".\" }`); \
             it is the application, not a dependency",
        ),
        (
            ("syft", r("npm", "berry-app", "0.0.0-use.local")),
            "syft dir lists yarn berry's `berry-app@workspace:.` entry; caisson skips \
             workspace entries and reports the project from its package.json (1.0.0), \
             as syft and trivy do on the image",
        ),
    ]);
    let mut unexpected = Vec::new();
    for (tool, set) in [
        ("syft", &syft_image),
        ("trivy", &trivy_image),
        ("syft", &syft_dir),
        ("trivy", &trivy_fs),
    ] {
        for row in set.keys() {
            if !ours.contains(row) && !not_ours.contains_key(&(tool, row.clone())) {
                unexpected.push(format!("{tool} has {row:?}"));
            }
        }
    }
    assert!(unexpected.is_empty(), "caisson lacks: {unexpected:#?}");
    for (tool, row) in not_ours.keys() {
        let set = if *tool == "syft" {
            syft_image
                .keys()
                .chain(syft_dir.keys())
                .collect::<BTreeSet<_>>()
        } else {
            trivy_image.keys().chain(trivy_fs.keys()).collect()
        };
        assert!(
            set.contains(row),
            "stale exception: {tool} no longer has {row:?}"
        );
    }

    // Packages caisson reports that no tool does: none. (Notes on near misses:
    // System.Text.Encodings.Web 4.5.0 is only in syft dir's output, since trivy keeps
    // deps.json libraries with runtime assets in `targets` only and syft 1.18 reads
    // deps.json only in dir: scans; the npm/gem entries of lockfiles shipped inside
    // Debian's ruby gems are only in syft dir's output, since trivy skips files dpkg
    // owns and caisson marks them `owned_by`.)
    let union: BTreeSet<&Row> = syft_image
        .keys()
        .chain(trivy_image.keys())
        .chain(syft_dir.keys())
        .chain(trivy_fs.keys())
        .collect();
    let extra: Vec<&Row> = ours.iter().filter(|row| !union.contains(row)).collect();
    assert!(extra.is_empty(), "only caisson has: {extra:#?}");

    // Installed packages: everything syft finds in the image, caisson finds.
    let missing: Vec<&Row> = syft_image.keys().filter(|r| !ours.contains(*r)).collect();
    assert!(
        missing.is_empty(),
        "syft image has, caisson lacks: {missing:?}"
    );
}

#[test]
fn debian_jinja2_is_owned_by_its_deb_and_pip_jinja2_is_not() {
    let Some(root) = fixtures_root() else { return };
    let doc = sbom(&root);
    let jinja: Vec<&Value> = packages(&doc)
        .filter(|p| p["type"] == "python" && p["name"] == "Jinja2")
        .collect();
    let by_version = |v: &str| -> &Value {
        jinja
            .iter()
            .find(|p| p["version"] == v)
            .unwrap_or_else(|| panic!("no Jinja2 {v}: {jinja:#?}"))
    };
    let pip = by_version("2.11.2");
    assert!(pip["owned_by"].is_null(), "{pip:#}");
    assert_eq!(pip["purl"], "pkg:pypi/jinja2@2.11.2");
    let debian = jinja
        .iter()
        .find(|p| p["version"].as_str().is_some_and(|v| v.starts_with("3.")))
        .expect("Debian's Jinja2 3.x");
    let owner = debian["owned_by"].as_str().expect("owned_by set");
    assert!(
        owner.starts_with("pkg:deb/debian/python3-jinja2@"),
        "{owner}"
    );
    assert!(
        packages(&doc).any(|p| p["id"] == owner),
        "owned_by names a package of the SBOM"
    );

    // trivy drops language packages whose files dpkg installed: every package
    // caisson marks as OS-owned (with no un-owned copy) is absent from trivy's image SBOM,
    // and every installed un-owned one trivy reports is un-owned for caisson too.
    let trivy = cdx(&root, "trivy.cdx.json");
    let mut owned: BTreeMap<Row, bool> = BTreeMap::new();
    for p in packages(&doc) {
        if let Some(row) = p["purl"].as_str().and_then(row) {
            let o = !p["owned_by"].is_null();
            owned.entry(row).and_modify(|all| *all &= o).or_insert(o);
        }
    }
    let both: Vec<&Row> = owned
        .iter()
        .filter(|(r, all_owned)| **all_owned && trivy.contains_key(*r))
        .map(|(r, _)| r)
        .collect();
    assert!(
        both.is_empty(),
        "OS-owned for caisson but reported by trivy: {both:?}"
    );
    assert!(
        owned.values().filter(|o| **o).count() > 50,
        "gems, Debian python"
    );
}

#[test]
fn layers_match_trivy_and_syft_and_installed_sets_match_pip_and_npm() {
    let Some(root) = fixtures_root() else { return };
    let doc = sbom(&root);
    let mut layer_of: BTreeMap<Row, BTreeSet<String>> = BTreeMap::new();
    for p in packages(&doc) {
        if let (Some(row), Some(l)) = (
            p["purl"].as_str().and_then(row),
            p["layer"]["diff_id"].as_str(),
        ) {
            layer_of.entry(row).or_default().insert(l.to_string());
        }
    }
    let mut checked = 0;
    for file in ["trivy.cdx.json", "syft.cdx.json"] {
        for (row, layer) in cdx(&root, file) {
            let (Some(layer), Some(ours)) = (layer, layer_of.get(&row)) else {
                continue;
            };
            assert!(
                ours.contains(&layer),
                "{file}: layer of {row:?}: {layer} not in {ours:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked}");

    // pip's own listing of the --target directory.
    let pip: Value = serde_json::from_slice(
        &std::fs::read(root.join(FIXTURE).join("expected/pip-list.json")).expect("pip-list"),
    )
    .expect("json");
    let ours = ours(&doc);
    for p in pip.as_array().expect("list") {
        let name = p["name"]
            .as_str()
            .expect("name")
            .to_lowercase()
            .replace('_', "-");
        let v = p["version"].as_str().expect("version");
        assert!(ours.contains(&r("pypi", &name, v)), "pip lists {name} {v}");
    }
    // npm ls --all of the npm project, nested dependencies included.
    let ls: Value = serde_json::from_slice(
        &std::fs::read(root.join(FIXTURE).join("expected/npm-ls.json")).expect("npm-ls"),
    )
    .expect("json");
    let mut stack = vec![&ls["dependencies"]];
    let mut n = 0;
    while let Some(deps) = stack.pop() {
        for (name, d) in deps.as_object().into_iter().flatten() {
            let v = d["version"].as_str().expect("version");
            assert!(ours.contains(&r("npm", name, v)), "npm ls lists {name} {v}");
            stack.push(&d["dependencies"]);
            n += 1;
        }
    }
    assert!(n >= 5, "{n}");
}
