//! The one-pass full scan (`scan_image`: catalogers, secret scanner and
//! misconfig facts sharing one walk of the layers) finds exactly what the
//! separate passes find: the SBOM (`caisson_sbom::from_image`) and the secret
//! and misconfig walk on its own (`walk::walk_image`), on fixture images from
//! scripts/fixtures — the `secrets` image (secrets in three layers, two
//! deleted by whiteouts; set-uid files, sshd, package caches) and the
//! `lang-python-node` and `lang-binaries` images (OS and language packages,
//! binaries read by catalogers' extractors and by the secret scanner).

use caisson_scan::{scan_image, walk, Scanners};
use caisson_secrets::RuleSet;

fn open(name: &str) -> Option<caisson_image::OpenedImage> {
    let (root, entry) = caisson_testsupport::fixture(name)?;
    let oci = entry["oci"].as_str().expect("oci path");
    let tag = entry["tag"].as_str().expect("tag");
    let source = format!("oci:{}:{tag}", root.join(oci).display());
    Some(caisson_sbom::open(&source, &caisson_sbom::Options::default()).expect("open fixture"))
}

fn same_as_separate_passes(name: &str) -> Option<(caisson_model::Sbom, walk::WalkOutput)> {
    let image = open(name)?;
    let opts = caisson_sbom::Options::default();
    let rules = RuleSet::builtin();

    let sbom = caisson_sbom::from_image(&image, &opts).expect("sbom pass");
    let alone = walk::walk_image(&image, Some(&rules), true, &opts.limits).expect("walk pass");

    let all = Scanners::default();
    let (one_sbom, one) = scan_image(&image, all, Some(&rules), &opts).expect("one pass");
    let one = one.expect("the walk ran");

    assert_eq!(sbom, one_sbom, "{name}: SBOMs differ");
    assert_eq!(alone.secrets, one.secrets, "{name}: secrets differ");
    assert_eq!(
        alone.files, one.files,
        "{name}: misconfig file facts differ"
    );
    assert_eq!(alone.warnings, one.warnings, "{name}: walk warnings differ");
    assert_eq!(
        walk::image_misconfigs(&image, &alone.files),
        walk::image_misconfigs(&image, &one.files),
        "{name}: misconfig findings differ"
    );

    // Without the vuln scanner the walk runs alone; its warnings join the SBOM's.
    let walk_only = Scanners {
        vuln: false,
        ..Scanners::default()
    };
    let (bare, w) = scan_image(&image, walk_only, Some(&rules), &opts).expect("walk only");
    let w = w.expect("the walk ran");
    assert!(bare.packages.is_empty());
    assert_eq!(bare.warnings, alone.warnings);
    assert_eq!(w.secrets, alone.secrets);
    assert_eq!(w.files, alone.files);
    Some((one_sbom, one))
}

#[test]
fn one_pass_equals_separate_passes_on_the_secrets_fixture() {
    let Some((_, one)) = same_as_separate_passes("secrets") else {
        return;
    };
    // The fixture exercises what the comparison is about: every planted
    // secret (two of them deleted by a later layer's whiteouts) is found.
    let (root, _) = caisson_testsupport::fixture("secrets").expect("fixture");
    let planted =
        fs_err::read_to_string(root.join("secrets/expected/planted.txt")).expect("planted.txt");
    for line in planted.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        assert!(
            one.secrets
                .iter()
                .any(|s| Some(&s.rule_id.as_str()) == w.first()
                    && s.layer.as_ref().map(|l| l.index.to_string()).as_deref()
                        == w.get(1).copied()
                    && Some(&s.path.as_str()) == w.get(2)),
            "planted {line} not found in {:?}",
            one.secrets
        );
    }
    assert!(
        one.files.iter().any(|f| f.mode & 0o4000 != 0),
        "a set-uid fact"
    );
}

#[test]
fn one_pass_equals_separate_passes_on_language_images() {
    for name in ["lang-python-node", "lang-binaries"] {
        if let Some((sbom, _)) = same_as_separate_passes(name) {
            assert!(sbom.packages.len() > 20, "{name}: packages to compare");
        }
    }
}
