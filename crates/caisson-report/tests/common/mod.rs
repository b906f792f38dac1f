//! Realistic SBOMs shared by the integration tests.

#![allow(dead_code)] // each test binary uses a different subset

use caisson_model::{LayerRef, OsRelease, Package, PackageType, Purl, Sbom, SourceInfo, Warning};
use caisson_report::RenderOptions;

pub const TIMESTAMP: &str = "2024-05-01T12:00:00Z";
pub const UUID: &str = "3e671687-395b-41f5-a30f-a58921a69b79";

pub fn opts() -> RenderOptions {
    RenderOptions {
        timestamp: TIMESTAMP.into(),
        document_uuid: UUID.into(),
        tool_version: "0.1.0".into(),
        color: false,
    }
}

fn layer(index: usize) -> LayerRef {
    LayerRef {
        index,
        diff_id: format!(
            "sha256:{}",
            format!("{index:x}")
                .repeat(64)
                .get(..64)
                .unwrap_or_default()
        ),
    }
}

fn s(x: &str) -> String {
    x.to_string()
}

struct P {
    ty: PackageType,
    name: &'static str,
    version: &'static str,
    epoch: Option<u64>,
    arch: Option<&'static str>,
    source: Option<(&'static str, Option<&'static str>)>,
    licenses: &'static [&'static str],
    supplier: Option<&'static str>,
    layer: Option<usize>,
    location: &'static str,
}

fn pkg(p: P, distro: &str, namespace: &str) -> Package {
    let mut purl = Purl::new(p.ty.purl_type(), p.name)
        .namespace(namespace)
        .version(p.version)
        .qualifier("arch", p.arch.unwrap_or(""))
        .qualifier("distro", distro);
    if let Some(e) = p.epoch {
        purl = purl.qualifier("epoch", &e.to_string());
    }
    if let Some((src, _)) = p.source {
        purl = purl.qualifier("upstream", src);
    }
    Package {
        id: format!("{}:{}@{}:{}", p.ty, p.name, p.version, p.arch.unwrap_or("")),
        package_type: p.ty,
        name: s(p.name),
        version: s(p.version),
        epoch: p.epoch,
        arch: p.arch.map(s),
        source_name: p.source.map(|(n, _)| s(n)),
        source_version: p.source.and_then(|(_, v)| v.map(s)),
        licenses: p.licenses.iter().map(|l| s(l)).collect(),
        supplier: p.supplier.map(s),
        purl: purl.to_string(),
        layer: p.layer.map(layer),
        locations: vec![s(p.location)],
        files: Vec::new(),
        owned_by: None,
        digests: Vec::new(),
    }
}

fn image_source(reference: &str, layers: usize) -> SourceInfo {
    let kind = reference.split(':').next().unwrap_or_default();
    SourceInfo {
        reference: s(reference),
        kind: s(kind),
        manifest_digest: Some(s(
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        )),
        config_digest: Some(s(
            "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
        )),
        layers: (0..layers).map(layer).collect(),
        platform: Some(s("linux/amd64")),
        tags: vec![s("example.org/app:1.0")],
    }
}

const DPKG: &str = "/var/lib/dpkg/status";
const APK: &str = "/lib/apk/db/installed";
const RPMDB: &str = "/var/lib/rpm/rpmdb.sqlite";

pub fn debian() -> Sbom {
    use PackageType::Deb;
    let d = |name, version, arch, source, licenses, supplier, layer| {
        pkg(
            P {
                ty: Deb,
                name,
                version,
                epoch: None,
                arch,
                source,
                licenses,
                supplier,
                layer: Some(layer),
                location: DPKG,
            },
            "debian-12",
            "debian",
        )
    };
    let glibc = Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>");
    let gcc = Some("Debian GCC Maintainers <debian-gcc@lists.debian.org>");
    Sbom {
        source: image_source("oci:./debian:12", 2),
        os: Some(OsRelease {
            id: s("debian"),
            version_id: Some(s("12")),
            codename: Some(s("bookworm")),
            pretty_name: Some(s("Debian GNU/Linux 12 (bookworm)")),
            id_like: Vec::new(),
        }),
        packages: vec![
            d(
                "base-files",
                "12.4+deb12u5",
                Some("amd64"),
                None,
                &["GPL-2.0-or-later"],
                Some("Santiago Vila <sanvila@debian.org>"),
                0,
            ),
            d(
                "libc6",
                "2.36-9+deb12u4",
                Some("amd64"),
                Some(("glibc", None)),
                &["LGPL-2.1-or-later", "GPL-2+"],
                glibc,
                0,
            ),
            d(
                "libstdc++6",
                "12.2.0-14",
                Some("amd64"),
                Some(("gcc-12", None)),
                &["GPL-3.0-or-later WITH GCC-exception-3.1"],
                gcc,
                0,
            ),
            d(
                "libstdc++6",
                "12.2.0-14",
                Some("i386"),
                Some(("gcc-12", None)),
                &["GPL-3.0-or-later WITH GCC-exception-3.1"],
                gcc,
                1,
            ),
            d(
                "login",
                "1:4.13+dfsg1-1+b1",
                Some("amd64"),
                Some(("shadow", Some("1:4.13+dfsg1-1"))),
                &["GPL-2.0-only", "BSD-3-clause"],
                Some("Shadow package maintainers <pkg-shadow-devel@lists.alioth.debian.org>"),
                0,
            ),
            d(
                "tzdata",
                "2024a-0+deb12u1",
                Some("all"),
                None,
                &["public-domain"],
                Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>"),
                1,
            ),
            d(
                "libgcc-s1",
                "12.2.0-14",
                Some("amd64"),
                Some(("gcc-12", None)),
                &[],
                gcc,
                0,
            ),
            d(
                "ncurses-base",
                "6.4-4",
                Some("all"),
                Some(("ncurses", None)),
                &["X11", "MIT OR X11"],
                Some("Craig Small <csmall@debian.org>"),
                0,
            ),
        ],
        warnings: Vec::new(),
    }
}

pub fn alpine() -> Sbom {
    use PackageType::Apk;
    let a = |name, version, origin, licenses| {
        pkg(
            P {
                ty: Apk,
                name,
                version,
                epoch: None,
                arch: Some("x86_64"),
                source: Some((origin, None)),
                licenses,
                supplier: Some("Natanael Copa <ncopa@alpinelinux.org>"),
                layer: Some(0),
                location: APK,
            },
            "alpine-3.19.1",
            "alpine",
        )
    };
    Sbom {
        source: image_source("docker-archive:alpine.tar", 1),
        os: Some(OsRelease {
            id: s("alpine"),
            version_id: Some(s("3.19.1")),
            codename: None,
            pretty_name: Some(s("Alpine Linux v3.19")),
            id_like: Vec::new(),
        }),
        packages: vec![
            a("musl", "1.2.4_git20230717-r4", "musl", &["MIT"]),
            a("busybox", "1.36.1-r15", "busybox", &["GPL-2.0-only"]),
            a(
                "ca-certificates-bundle",
                "20230506-r0",
                "ca-certificates",
                &["MPL-2.0 AND MIT"],
            ),
            a("libcrypto3", "3.1.4-r5", "openssl", &["Apache-2.0"]),
            a("zlib", "1.3.1-r0", "zlib", &["Zlib"]),
            a("scanelf", "1.3.7-r2", "pax-utils", &["GPL-2.0-only"]),
            a(
                "linux-headers",
                "6.5-r0",
                "linux-headers",
                &["GPL-2.0-only WITH Linux-syscall-note"],
            ),
            a(
                "gmp",
                "6.3.0-r0",
                "gmp",
                &["LGPL-3.0-or-later OR GPL-2.0-or-later"],
            ),
            a(
                "libgcc",
                "13.2.1_git20231014-r0",
                "gcc",
                &["GPL-2.0-or-later AND LGPL-2.1-or-later"],
            ),
        ],
        warnings: Vec::new(),
    }
}

pub fn rocky() -> Sbom {
    use PackageType::Rpm;
    let r = |name, version, epoch, arch, srpm, licenses| {
        pkg(
            P {
                ty: Rpm,
                name,
                version,
                epoch,
                arch: Some(arch),
                source: Some((srpm, None)),
                licenses,
                supplier: Some("Rocky Enterprise Software Foundation"),
                layer: Some(0),
                location: RPMDB,
            },
            "rocky-9.3",
            "rocky",
        )
    };
    Sbom {
        source: image_source("registry:docker.io/rockylinux/rockylinux:9", 1),
        os: Some(OsRelease {
            id: s("rocky"),
            version_id: Some(s("9.3")),
            codename: Some(s("Blue Onyx")),
            pretty_name: Some(s("Rocky Linux 9.3 (Blue Onyx)")),
            id_like: vec![s("rhel"), s("centos"), s("fedora")],
        }),
        packages: vec![
            r("bash", "5.1.8-6.el9_1", None, "x86_64", "bash-5.1.8-6.el9_1.src.rpm", &["GPLv3+"]),
            r("openssl-libs", "3.0.7-24.el9", Some(1), "x86_64", "openssl-3.0.7-24.el9.src.rpm", &["ASL 2.0"]),
            r("glibc", "2.34-83.el9_3.7", None, "x86_64", "glibc-2.34-83.el9_3.7.src.rpm", &["LGPLv2+ and LGPLv2+ with exceptions and GPLv2+ and GPLv2+ with exceptions and BSD and Inner-Net and ISC and Public Domain and GFDL"]),
            r("glibc", "2.34-83.el9_3.7", None, "i686", "glibc-2.34-83.el9_3.7.src.rpm", &["LGPLv2+"]),
            r("tzdata", "2023c-1.el9", None, "noarch", "tzdata-2023c-1.el9.src.rpm", &["Public Domain"]),
            r("libgcc", "11.4.1-2.1.el9", None, "x86_64", "gcc-11.4.1-2.1.el9.src.rpm", &["GPLv3+ and GPLv3+ with exceptions and GPLv2+ with exceptions and LGPLv2+ and BSD"]),
            r("python3-pip-wheel", "21.2.3~rc1-7.el9", None, "noarch", "python-pip-21.2.3-7.el9.src.rpm", &["MIT and Python and ASL 2.0 and BSD and ISC and LGPLv2 and MPLv2.0 and (ASL 2.0 or BSD)"]),
            r("shadow-utils", "4.9-8.el9", Some(2), "x86_64", "shadow-utils-4.9-8.el9.src.rpm", &["BSD and GPLv2+"]),
            r("rpm", "4.16.1.3-25.el9", None, "x86_64", "rpm-4.16.1.3-25.el9.src.rpm", &["GPLv2+"]),
        ],
        warnings: vec![Warning {
            code: s("rpmdb-ndb-unsupported"),
            message: s("ignored /var/lib/rpm/Packages.db"),
        }],
    }
}

/// No OS, no packages.
pub fn empty() -> Sbom {
    Sbom {
        source: SourceInfo {
            reference: s("dir:/tmp/empty rootfs"),
            kind: s("dir"),
            ..SourceInfo::default()
        },
        os: None,
        packages: Vec::new(),
        warnings: Vec::new(),
    }
}

/// Hostile-ish corner cases: unicode, control characters, duplicate ids, empty
/// strings, no layer, no purl, no OS.
pub fn odd() -> Sbom {
    let base = Package {
        id: s("dup"),
        package_type: PackageType::Deb,
        name: s("pässwd-ü"),
        version: s("1.0~rc1+ü"),
        epoch: None,
        arch: None,
        source_name: None,
        source_version: None,
        licenses: vec![s(""), s("LicenseRef-custom"), s("MIT")],
        supplier: Some(s("Jörg (the packager) Müller <jörg@example.org>")),
        purl: s("pkg:deb/p%C3%A4sswd-%C3%BC@1.0~rc1%2B%C3%BC"),
        layer: None,
        locations: vec![s("/var/lib/dpkg/status.d/pässwd")],
        files: vec![s("/usr/bin/pässwd")],
        owned_by: None,
        digests: Vec::new(),
    };
    let mut evil = base.clone();
    evil.name = s("evil\u{1b}[31mred");
    evil.version = s("1\n2");
    evil.licenses = vec![s("GPL-2.0+"), s("Apache-2.0")];
    evil.supplier = Some(s("<>"));
    evil.purl = String::new();
    let mut japanese = base.clone();
    japanese.id = s("日本語:1");
    japanese.name = s("日本語");
    japanese.version = s("2:1.0-1");
    japanese.licenses = vec![s("NOASSERTION")];
    japanese.supplier = None;
    japanese.package_type = PackageType::Rpm;
    japanese.epoch = Some(0);
    Sbom {
        source: SourceInfo {
            reference: String::new(),
            kind: s("oci-archive"),
            ..SourceInfo::default()
        },
        os: None,
        packages: vec![base, evil, japanese],
        warnings: vec![Warning {
            code: s("tar-path-escapes-root"),
            message: s("skipped ../../etc/passwd"),
        }],
    }
}

pub fn all() -> Vec<(&'static str, Sbom)> {
    vec![
        ("debian", debian()),
        ("alpine", alpine()),
        ("rocky", rocky()),
        ("empty", empty()),
        ("odd", odd()),
    ]
}
