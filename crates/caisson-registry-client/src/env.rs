//! Every environment variable this crate reads, in one place.

/// Path of a containers-auth.json file, checked first (podman, skopeo, buildah).
pub const REGISTRY_AUTH_FILE: &str = "REGISTRY_AUTH_FILE";
/// `$XDG_RUNTIME_DIR/containers/auth.json` is checked second.
pub const XDG_RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";
/// Docker's config directory (default `~/.docker`), holding `config.json`.
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";
/// Home directory, for `~/.docker/config.json`.
pub const HOME: &str = "HOME";
