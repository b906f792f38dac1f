//! Executable allowlists ("profiles"), one per image: the file format (YAML,
//! versioned), loading a directory of them, learning one, and the in-memory
//! index protect mode decides from without I/O.
//!
//! A profile is keyed by the image's first repo digest (`name@sha256:…`) or,
//! for an image that was never pushed or pulled, its image id
//! (`sha256:…`). Each executable is recorded with its sha256 (what was
//! learned; for audit and for re-learning) and with its size and mtime: the
//! decision key is `(path, size, mtime)`, read with one `fstat` of the event's
//! descriptor, so deciding never reads file contents. docs/runtime.md
//! explains what that key can and cannot tell apart.
#![deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What the sensor does with executables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllowlistMode {
    /// No allowlists: file rules only.
    #[default]
    Off,
    /// Learn the executables each image's containers run.
    Discover,
    /// Alert (`exec-not-allowed`) on executables not in the image's profile.
    Monitor,
    /// Deny them (`FAN_OPEN_EXEC_PERM`; the exec fails with `EPERM`).
    Protect,
}

/// The profile format version this build reads and writes.
pub const PROFILE_VERSION: u32 = 1;
/// Largest profile file read.
pub const MAX_PROFILE_FILE: u64 = 8 << 20;
/// Most executables one profile holds (learning stops adding past it).
pub const MAX_EXECUTABLES: usize = caisson_model::exec_profile::MAX_EXECUTABLES;

/// One image's executable allowlist, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Format version ([`PROFILE_VERSION`]).
    pub version: u32,
    /// The key: first repo digest of the image, else its image id.
    pub image: String,
    /// The image reference the containers were created from (information).
    #[serde(default)]
    pub reference: String,
    /// Executables, sorted by path.
    pub executables: Vec<Executable>,
    /// Paths allowed whatever their contents (a server-side manual allow
    /// that named no size and mtime).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_contents: Vec<String>,
}

/// One learned executable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Executable {
    /// Path inside the container.
    pub path: String,
    /// Hex sha256 of the contents when learned.
    pub sha256: String,
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
}

/// A profile file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("reading profile {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("profile {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("writing profile {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Profile {
    /// Parses and validates one profile.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ProfileError> {
        let invalid = |message: String| ProfileError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let p: Profile = serde_norway::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if p.version != PROFILE_VERSION {
            return Err(invalid(format!(
                "version {} is not supported (this build reads version {PROFILE_VERSION})",
                p.version
            )));
        }
        if p.image.is_empty() {
            return Err(invalid("`image` is empty".into()));
        }
        if p.executables.len() + p.any_contents.len() > MAX_EXECUTABLES {
            return Err(invalid(format!("more than {MAX_EXECUTABLES} executables")));
        }
        // The server's rules (caisson_model::exec_profile) are the same.
        for e in &p.executables {
            caisson_model::exec_profile::check_executable(&e.path, &e.sha256).map_err(invalid)?;
        }
        for path in &p.any_contents {
            if !path.starts_with('/') {
                return Err(invalid(format!(
                    "any_contents path {path:?} is not absolute"
                )));
            }
        }
        Ok(p)
    }

    /// Reads one profile file.
    pub fn read(path: &Path) -> Result<Self, ProfileError> {
        use std::io::Read;
        let mut text = String::new();
        fs_err::File::open(path)
            .and_then(|f| f.take(MAX_PROFILE_FILE + 1).read_to_string(&mut text))
            .map_err(|source| ProfileError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        if text.len() as u64 > MAX_PROFILE_FILE {
            return Err(ProfileError::Invalid {
                path: path.to_path_buf(),
                message: format!("larger than {MAX_PROFILE_FILE} bytes"),
            });
        }
        Self::parse(path, &text)
    }

    /// Writes the profile as YAML.
    pub fn write(&self, path: &Path) -> Result<(), ProfileError> {
        let text = serde_norway::to_string(self).map_err(|e| ProfileError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let header =
            "# Caisson executable allowlist (docs/runtime.md, \"Executable allowlists\").\n";
        fs_err::write(path, format!("{header}{text}")).map_err(|source| ProfileError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// A file name for the profile in a profiles directory.
    pub fn file_name(&self) -> String {
        let safe: String = self
            .image
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{safe}.yaml")
    }
}

/// The key of an image: its first repo digest, else its image id.
pub fn image_key(image_digest: Option<&str>, image_id: &str) -> String {
    image_digest.unwrap_or(image_id).to_string()
}

/// What protect and monitor modes decide from: path → allowed (size, mtime).
#[derive(Debug, Default)]
pub struct ProfileIndex {
    by_path: HashMap<String, Vec<(u64, i64)>>,
    any_contents: std::collections::HashSet<String>,
}

impl ProfileIndex {
    pub fn new(p: &Profile) -> Self {
        let mut by_path: HashMap<String, Vec<(u64, i64)>> = HashMap::new();
        for e in &p.executables {
            by_path
                .entry(e.path.clone())
                .or_default()
                .push((e.size, e.mtime_ns));
        }
        Self {
            by_path,
            any_contents: p.any_contents.iter().cloned().collect(),
        }
    }

    /// Whether the file at `path` with this size and mtime was learned (or
    /// the path is allowed whatever its contents).
    pub fn allows(&self, path: &str, size: u64, mtime_ns: i64) -> bool {
        self.by_path
            .get(path)
            .is_some_and(|v| v.contains(&(size, mtime_ns)))
            || self.any_contents.contains(path)
    }

    pub fn len(&self) -> usize {
        self.by_path.len() + self.any_contents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty() && self.any_contents.is_empty()
    }
}

/// Every profile of a directory, by image key.
#[derive(Debug, Default, Clone)]
pub struct Profiles {
    by_image: HashMap<String, Arc<ProfileIndex>>,
}

impl Profiles {
    /// Reads every `*.yaml` file of `dir`; any bad file is an error naming it.
    pub fn load_dir(dir: &Path) -> Result<Self, ProfileError> {
        let mut by_image = HashMap::new();
        let entries = fs_err::read_dir(dir).map_err(|source| ProfileError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| ProfileError::Read {
                path: dir.to_path_buf(),
                source,
            })?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let p = Profile::read(&path)?;
            by_image.insert(p.image.clone(), Arc::new(ProfileIndex::new(&p)));
        }
        Ok(Self { by_image })
    }

    pub fn insert(&mut self, p: &Profile) {
        self.by_image
            .insert(p.image.clone(), Arc::new(ProfileIndex::new(p)));
    }

    pub fn get(&self, image_key: &str) -> Option<Arc<ProfileIndex>> {
        self.by_image.get(image_key).cloned()
    }

    pub fn len(&self) -> usize {
        self.by_image.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_image.is_empty()
    }
}

/// Profiles whose mode is set per image by a server (`caisson sensor run
/// --server`): image key → (mode, allowlist). The sync thread builds a new
/// one and swaps it in whole ([`crate::watched::Shared::set_managed`]); an
/// image it does not hold yet is in discover.
#[derive(Debug, Default, Clone)]
pub struct ManagedProfiles {
    by_image: HashMap<String, (AllowlistMode, Arc<ProfileIndex>)>,
}

impl ManagedProfiles {
    pub fn insert(&mut self, mode: AllowlistMode, p: &Profile) {
        self.by_image
            .insert(p.image.clone(), (mode, Arc::new(ProfileIndex::new(p))));
    }

    /// The mode and allowlist of `image_key` (discover, none: unknown).
    pub fn get(&self, image_key: &str) -> (AllowlistMode, Option<Arc<ProfileIndex>>) {
        match self.by_image.get(image_key) {
            Some((mode, idx)) => (*mode, Some(idx.clone())),
            None => (AllowlistMode::Discover, None),
        }
    }

    pub fn len(&self) -> usize {
        self.by_image.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_image.is_empty()
    }
}

/// Executables learned per image (discover mode, `caisson sensor learn`).
#[derive(Debug, Default)]
pub struct Learner {
    images: BTreeMap<String, (String, BTreeMap<String, Executable>)>,
    /// Executables not recorded because a profile was full.
    pub refused: u64,
}

impl Learner {
    /// Records that a container of `image_key` (created from `reference`)
    /// ran `exe`.
    pub fn record(&mut self, image_key: &str, reference: &str, exe: Executable) {
        let (r, map) = self
            .images
            .entry(image_key.to_string())
            .or_insert_with(|| (reference.to_string(), BTreeMap::new()));
        if r.is_empty() {
            *r = reference.to_string();
        }
        if map.len() >= MAX_EXECUTABLES && !map.contains_key(&exe.path) {
            self.refused += 1;
            return;
        }
        map.insert(exe.path.clone(), exe);
    }

    /// One profile per image seen.
    pub fn profiles(&self) -> Vec<Profile> {
        self.images
            .iter()
            .map(|(image, (reference, map))| Profile {
                version: PROFILE_VERSION,
                image: image.clone(),
                reference: reference.clone(),
                executables: map.values().cloned().collect(),
                any_contents: Vec::new(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn exe(path: &str, size: u64, mtime_ns: i64) -> Executable {
        Executable {
            path: path.into(),
            sha256: "a".repeat(64),
            size,
            mtime_ns,
        }
    }

    #[test]
    fn learned_round_trip_and_decision_key() {
        let mut l = Learner::default();
        l.record("sha256:img", "alpine:3", exe("/bin/busybox", 10, 5));
        l.record("sha256:img", "alpine:3", exe("/bin/busybox", 10, 5));
        l.record(
            "sha256:img",
            "alpine:3",
            exe("/lib/ld-musl-x86_64.so.1", 3, 7),
        );
        let ps = l.profiles();
        assert_eq!(ps.len(), 1);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ps[0].file_name());
        ps[0].write(&path).unwrap();
        let back = Profile::read(&path).unwrap();
        assert_eq!(back, ps[0]);
        let all = Profiles::load_dir(dir.path()).unwrap();
        let idx = all.get("sha256:img").unwrap();
        assert!(idx.allows("/bin/busybox", 10, 5));
        // Same path, other contents (size or mtime changed): not allowed.
        assert!(!idx.allows("/bin/busybox", 11, 5));
        assert!(!idx.allows("/bin/busybox", 10, 6));
        assert!(!idx.allows("/tmp/busybox", 10, 5));
    }

    #[test]
    fn bad_profiles_name_what_is_wrong() {
        let p = Path::new("p.yaml");
        for (text, want) in [
            ("version: 2\nimage: x\nexecutables: []\n", "version 2 is not supported"),
            ("version: 1\nimage: ''\nexecutables: []\n", "`image` is empty"),
            (
                "version: 1\nimage: x\nexecutables:\n- {path: bin/sh, sha256: x, size: 1, mtime_ns: 1}\n",
                "not absolute",
            ),
            (
                "version: 1\nimage: x\nexecutables:\n- {path: /bin/sh, sha256: xyz, size: 1, mtime_ns: 1}\n",
                "not 64 hex digits",
            ),
            ("version: 1\nimage: x\nexecutables: []\nextra: 1\n", "unknown field"),
        ] {
            let e = Profile::parse(p, text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
            assert!(e.contains("p.yaml"), "{e}");
        }
    }
}
