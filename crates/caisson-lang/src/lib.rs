//! Language-package catalogers: packages installed by, or locked for, a
//! language's package manager, read from the files captured from an image.
//!
//! | family  | installed (evidence)                                   | declared (lockfiles)                                   |
//! |---------|--------------------------------------------------------|--------------------------------------------------------|
//! | Python  | `*.dist-info/METADATA` (+`RECORD`), `*.egg-info[/PKG-INFO]` | `requirements*.txt` (`==` pins), `poetry.lock`, `Pipfile.lock`, `uv.lock` |
//! | Node.js | `node_modules/<name>/package.json` (nested, scoped)    | `package-lock.json` v1–v3, `yarn.lock` v1/berry, `pnpm-lock.yaml` |
//! | Ruby    | `specifications/[default/]*.gemspec` (not evaluated)   | `Gemfile.lock`                                         |
//! | PHP     | `vendor/composer/installed.json` (v1 and v2)           | `composer.lock`                                        |
//! | .NET    | `*.deps.json` (`libraries` of type `package`)          |                                                        |
//!
//! Every parser is pure (bytes in, entries out), bounded by the capture
//! limit of its file, and never panics. Within one family a package seen
//! both installed and in a lockfile of an enclosing project directory is one
//! package with both locations (see [`common::merge`]).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
#![cfg_attr(
    test,
    allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

pub mod common;
pub mod dotnet;
pub mod npm;
pub mod php;
pub mod pnpm;
pub mod pylock;
pub mod python;
pub mod ruby;
pub mod yarn;

use caisson_catalog::{Cataloger, Found};
use caisson_image::Vfs;
use caisson_model::OsRelease;

/// Largest package metadata file captured (METADATA, package.json, gemspec).
pub const MAX_METADATA_BYTES: u64 = 4 << 20;
/// Largest file list or lockfile captured (RECORD, package-lock.json, …).
pub const MAX_LOCK_BYTES: u64 = 32 << 20;

struct Python;
struct Node;
struct Ruby;
struct Php;
struct DotNet;

impl Cataloger for Python {
    fn name(&self) -> &'static str {
        "python"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        python::wants(path).or_else(|| pylock::wants(path))
    }
    fn catalog(&self, vfs: &Vfs, _: Option<&OsRelease>, found: &mut Found) {
        let mut c = common::Collector::default();
        python::catalog(vfs, &mut c);
        pylock::catalog(vfs, &mut c);
        c.finish(found);
    }
}

impl Cataloger for Node {
    fn name(&self) -> &'static str {
        "npm"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        npm::wants(path)
            .or_else(|| yarn::wants(path))
            .or_else(|| pnpm::wants(path))
    }
    fn catalog(&self, vfs: &Vfs, _: Option<&OsRelease>, found: &mut Found) {
        let mut c = common::Collector::default();
        npm::catalog(vfs, &mut c);
        yarn::catalog(vfs, &mut c);
        pnpm::catalog(vfs, &mut c);
        c.finish(found);
    }
}

impl Cataloger for Ruby {
    fn name(&self) -> &'static str {
        "gem"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        ruby::wants(path)
    }
    fn catalog(&self, vfs: &Vfs, _: Option<&OsRelease>, found: &mut Found) {
        let mut c = common::Collector::default();
        ruby::catalog(vfs, &mut c);
        c.finish(found);
    }
}

impl Cataloger for Php {
    fn name(&self) -> &'static str {
        "composer"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        php::wants(path)
    }
    fn catalog(&self, vfs: &Vfs, _: Option<&OsRelease>, found: &mut Found) {
        let mut c = common::Collector::default();
        php::catalog(vfs, &mut c);
        c.finish(found);
    }
}

impl Cataloger for DotNet {
    fn name(&self) -> &'static str {
        "dotnet-deps"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        dotnet::wants(path)
    }
    fn catalog(&self, vfs: &Vfs, _: Option<&OsRelease>, found: &mut Found) {
        let mut c = common::Collector::default();
        dotnet::catalog(vfs, &mut c);
        c.finish(found);
    }
}

/// The language-package catalogers, one per ecosystem family.
pub fn lang_catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(Python),
        Box::new(Node),
        Box::new(Ruby),
        Box::new(Php),
        Box::new(DotNet),
    ]
}
