//! Arbitrary bytes as each OS package database and os-release: the
//! catalogers must return packages and warnings, never panic.
#![no_main]

use caisson_image::Squashed;
use caisson_model::SourceInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let which = data.first().copied().unwrap_or(0) % 6;
    let body = data.get(1..).unwrap_or(&[]);
    let path = match which {
        0 => "/var/lib/dpkg/status",
        1 => "/var/lib/dpkg/status.d/pkg",
        2 => "/lib/apk/db/installed",
        3 => "/etc/os-release",
        4 => "/var/lib/rpm/Packages",
        _ => "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    };
    let files: Vec<(&str, &[u8])> = vec![
        (path, body),
        ("/var/lib/dpkg/info/pkg.list", body),
        ("/usr/share/doc/pkg/copyright", body),
    ];
    let squashed = Squashed::from_files(&files);
    let _ = caisson_catalog::catalog(&caisson_catalog::Catalogers::os(), &squashed, SourceInfo::default());
});
