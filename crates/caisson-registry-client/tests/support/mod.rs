//! Test helpers: a real `docker-registry` process (from caisson-testsupport),
//! OCI layouts pushed with skopeo, a tiny scriptable HTTP server (hostile
//! registries, token server).
#![allow(dead_code)]

pub mod http;
pub mod layout;
pub mod tokens;

#[allow(unused_imports)]
pub use caisson_testsupport::{have_tool, have_tools, registry, run, write_auth_file};
