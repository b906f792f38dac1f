//! Parsers over real files (tests/data, copied from the `lang-python-node`
//! fixture: Debian's python3-jinja2/python3-yaml/ruby-rack/libruby3.1, pip,
//! npm 11, yarn 1.22, yarn 4.5, pnpm 9, uv 0.9) and the catalogers over
//! hostile images.

use caisson_catalog::Found;
use caisson_image::Squashed;
use caisson_lang::{npm, pnpm, pylock, python, ruby, yarn};
use caisson_model::Package;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).expect(name)
}

fn text(name: &str) -> String {
    String::from_utf8(data(name)).expect("utf-8")
}

fn run(files: &[(&str, &[u8])]) -> Found {
    let view = Squashed::from_files(files).view();
    let mut found = Found::default();
    for c in caisson_lang::lang_catalogers() {
        c.catalog(&view, None, &mut found);
    }
    found
}

fn find<'a>(f: &'a Found, name: &str, version: &str) -> &'a Package {
    f.packages
        .iter()
        .find(|p| p.name == name && p.version == version)
        .unwrap_or_else(|| panic!("{name} {version} not in {:#?}", f.packages))
}

#[test]
fn debian_and_pip_python_metadata() {
    let m = python::parse_metadata(&text("debian-Jinja2-3.1.2.PKG-INFO")).expect("parses");
    assert_eq!((m.name.as_str(), m.version.as_str()), ("Jinja2", "3.1.2"));
    let m = python::parse_metadata(&text("debian-PyYAML-6.0.METADATA")).expect("parses");
    assert_eq!((m.name.as_str(), m.version.as_str()), ("PyYAML", "6.0"));
    assert_eq!(m.licenses, vec!["MIT"]);
    let rec = python::parse_record(&text("requests-2.25.0.RECORD"));
    assert!(rec.contains(&"requests/__init__.py".to_string()), "{rec:?}");

    let meta = data("debian-PyYAML-6.0.METADATA");
    let record = data("requests-2.25.0.RECORD");
    let f = run(&[
        ("/opt/app/site/PyYAML-6.0.dist-info/METADATA", &meta),
        ("/opt/app/site/PyYAML-6.0.dist-info/RECORD", &record),
    ]);
    let p = find(&f, "PyYAML", "6.0");
    assert_eq!(p.purl, "pkg:pypi/pyyaml@6.0");
    assert!(p
        .files
        .contains(&"/opt/app/site/requests/__init__.py".to_string()));
}

#[test]
fn uv_lock_and_uv_exported_requirements_agree() {
    let mut lock = pylock::parse_toml_lock(&text("uv.lock")).expect("uv.lock");
    let mut req = pylock::parse_requirements(&text("requirements.txt"));
    lock.sort();
    req.sort();
    assert!(lock.len() > 5, "{lock:?}");
    assert!(
        !lock.iter().any(|(n, _)| n == "py-app"),
        "the project is not a dependency"
    );
    assert_eq!(lock, req);
}

#[test]
fn npm_lockfiles_v2_v3() {
    let mut v3 = npm::parse_package_lock(&data("npm-v3-package-lock.json")).expect("v3");
    v3.sort();
    assert!(v3.contains(&("@babel/helper-string-parser".into(), "7.22.5".into())));
    assert!(v3.contains(&("minimist".into(), "0.0.8".into())), "nested");
    assert!(v3.contains(&("minimist".into(), "1.2.0".into())));
    // typeprof's vscode lockfile: 320 dev-only entries are left out.
    let v2 = npm::parse_package_lock(&data("npm-v2-package-lock.json")).expect("v2");
    assert!(!v2.is_empty() && v2.len() < 60, "{}", v2.len());
}

#[test]
fn yarn_and_pnpm_lockfiles() {
    assert_eq!(
        yarn::parse(&text("yarn-v1.lock")).expect("v1"),
        vec![
            (
                "@babel/helper-validator-identifier".into(),
                "7.22.20".into()
            ),
            ("debug".into(), "2.6.9".into()),
            ("ms".into(), "2.0.0".into())
        ]
    );
    assert_eq!(
        yarn::parse(&text("yarn-berry.lock")).expect("berry"),
        vec![
            ("@types/ms".into(), "0.7.34".into()),
            ("ms".into(), "2.1.3".into())
        ]
    );
    let mut p = pnpm::parse(&text("pnpm-v9-lock.yaml")).expect("pnpm");
    p.sort();
    assert_eq!(
        p,
        vec![
            ("lru-cache".into(), "6.0.0".into()),
            ("ms".into(), "2.1.2".into()),
            ("semver".into(), "7.5.1".into()),
            ("yallist".into(), "4.0.0".into())
        ]
    );
}

#[test]
fn ruby_gemspecs_and_gemfile_lock() {
    assert_eq!(
        ruby::parse_gemspec(&text("debian-rack.gemspec")).map(|g| (g.0, g.1)),
        Some(("rack".into(), "2.2.22".into()))
    );
    assert_eq!(
        ruby::parse_gemspec(&text("default-bigdecimal.gemspec")),
        Some(("bigdecimal".into(), "3.1.1".into(), vec!["Ruby".into()]))
    );
    let lock = ruby::parse_gemfile_lock(&text("typeprof-Gemfile.lock"));
    assert!(lock.iter().any(|(n, _)| n == "simplecov"), "{lock:?}");
}

#[test]
fn lockfile_and_installed_copies_merge_within_a_project_only() {
    let lock = data("npm-v3-package-lock.json");
    let lodash = br#"{"name":"lodash","version":"4.17.15","license":"MIT"}"#;
    let f = run(&[
        ("/srv/a/package-lock.json", &lock),
        ("/srv/a/node_modules/lodash/package.json", lodash),
        ("/srv/b/node_modules/lodash/package.json", lodash),
    ]);
    let copies: Vec<&Package> = f.packages.iter().filter(|p| p.name == "lodash").collect();
    assert_eq!(copies.len(), 2, "{copies:#?}");
    assert_eq!(
        copies[0].locations,
        vec![
            "/srv/a/node_modules/lodash/package.json",
            "/srv/a/package-lock.json"
        ]
    );
    assert_eq!(copies[0].licenses, vec!["MIT"]);
    assert_eq!(
        copies[1].locations,
        vec!["/srv/b/node_modules/lodash/package.json"]
    );
}

#[test]
fn hostile_inputs_are_skipped_with_warnings_not_panics() {
    let deep_json = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let nested = format!(
        "/app{}/x/package.json",
        "/node_modules/x".repeat(npm::MAX_NESTING + 1)
    );
    let ok = br#"{"name":"x","version":"1.0.0"}"#;
    let f = run(&[
        ("/a/node_modules/bad/package.json", deep_json.as_bytes()),
        ("/a/package-lock.json", b"\0\0\0"),
        ("/a/yarn.lock", b"__metadata:\n  x: [\xff\xfe"),
        ("/a/pnpm-lock.yaml", b"packages: {a: *undefined}"),
        ("/a/Pipfile.lock", b"{\"default\": 1}"),
        ("/a/uv.lock", b"[[package]]\0"),
        ("/s/x.dist-info/METADATA", b"\xff\xfe\0Name\0"),
        ("/g/specifications/x.gemspec", b"\0\0"),
        ("/w/vendor/composer/installed.json", b"{\"packages\": {}}"),
        ("/d/a.deps.json", b"{\"libraries\": []}"),
        (&nested, ok),
    ]);
    assert!(f.packages.is_empty(), "{:#?}", f.packages);
    let codes: Vec<&str> = f.warnings.iter().map(|w| w.code.as_str()).collect();
    for c in [
        "npm-package-json-malformed",
        "npm-lockfile-malformed",
        "yarn-lockfile-malformed",
        "pnpm-lockfile-malformed",
        "python-lockfile-malformed",
        "python-metadata-malformed",
        "gemspec-malformed",
    ] {
        assert!(codes.contains(&c), "{c} not in {codes:?}");
    }
}

#[test]
fn oversized_package_json_is_not_captured() {
    use caisson_image::Interest;
    let cats = caisson_catalog::Catalogers(caisson_lang::lang_catalogers());
    let cap = cats
        .wants("/a/node_modules/x/package.json")
        .expect("wanted");
    assert_eq!(cap, caisson_lang::MAX_METADATA_BYTES);
    // The image reader skips a larger file with a `file-too-large` warning.
    let mut tar = tar::Builder::new(Vec::new());
    let big = vec![b' '; cap as usize + 1];
    let mut h = tar::Header::new_gnu();
    h.set_size(big.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, "a/node_modules/x/package.json", big.as_slice())
        .expect("append");
    let layer = tar.into_inner().expect("tar");
    let sq = caisson_image::scan_bytes(&[&layer], &cats, &caisson_image::Limits::default())
        .expect("scan");
    assert!(
        sq.warnings.iter().any(|w| w.code == "file-too-large"),
        "{:?}",
        sq.warnings
    );
}

#[test]
fn os_owned_language_packages_name_their_os_package() {
    let status = b"Package: python3-jinja2\nStatus: install ok installed\nArchitecture: all\nVersion: 3.1.2-1\n\n";
    let list = b"/.\n/usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info\n/usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info/PKG-INFO\n";
    let pkg_info = data("debian-Jinja2-3.1.2.PKG-INFO");
    let pip = b"Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.11.2\n";
    let sq = Squashed::from_files(&[
        ("/etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n"),
        ("/var/lib/dpkg/status", status),
        ("/var/lib/dpkg/info/python3-jinja2.list", list),
        (
            "/usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info/PKG-INFO",
            &pkg_info,
        ),
        ("/opt/venv/site/Jinja2-2.11.2.dist-info/METADATA", pip),
    ]);
    let mut all = caisson_catalog::os_catalogers();
    all.extend(caisson_lang::lang_catalogers());
    let sbom = caisson_catalog::catalog(
        &caisson_catalog::Catalogers(all),
        &sq,
        caisson_model::SourceInfo::default(),
    );
    let get = |v: &str| {
        sbom.packages
            .iter()
            .find(|p| p.name == "Jinja2" && p.version == v)
            .expect(v)
    };
    let deb = sbom
        .packages
        .iter()
        .find(|p| p.name == "python3-jinja2")
        .expect("deb");
    assert_eq!(get("3.1.2").owned_by.as_deref(), Some(deb.id.as_str()));
    assert_eq!(get("2.11.2").owned_by, None);
}
