//! The squashed view: captured files and symlinks after applying every layer.

use std::collections::BTreeMap;
use std::sync::Arc;

use caisson_model::Warning;

use crate::layer::{Change, LayerScan};
use crate::path::{parent, resolve_link};
use crate::{ImageError, Limits};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File {
        data: Arc<[u8]>,
        layer: usize,
        by: Option<&'static str>,
    },
    Symlink {
        target: String,
        layer: usize,
    },
}

/// A captured file as seen through the squashed view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfsFile {
    /// The real path of the file after symlinks are resolved.
    pub path: String,
    pub data: Arc<[u8]>,
    /// The layer index the file's content comes from.
    pub layer: usize,
    /// The extractor that produced `data`, or `None` for the file's own bytes.
    pub extracted_by: Option<&'static str>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VfsError {
    #[error("{path}: too many levels of symbolic links (more than {limit})")]
    SymlinkLoop { path: String, limit: usize },
}

/// A virtual filesystem holding only captured files and all symlinks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vfs {
    nodes: BTreeMap<String, Node>,
    max_hops: usize,
}

fn under(path: &str, dir: &str) -> bool {
    dir == "/"
        || (path.len() > dir.len()
            && path.starts_with(dir)
            && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

impl Vfs {
    fn remove_tree(&mut self, path: &str) {
        self.nodes.remove(path);
        self.remove_children(path);
    }

    fn remove_children(&mut self, dir: &str) {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    fn apply(&mut self, scan: &LayerScan) {
        // Whiteouts apply only to lower layers: all of them first.
        for c in &scan.changes {
            match c {
                Change::Whiteout(p) => self.remove_tree(p),
                Change::Opaque(d) => self.remove_children(d),
                _ => {}
            }
        }
        for c in &scan.changes {
            match c {
                Change::File { path, data, by } => {
                    self.nodes.insert(
                        path.clone(),
                        Node::File {
                            data: data.clone(),
                            layer: scan.index,
                            by: *by,
                        },
                    );
                }
                Change::Symlink { path, target } => {
                    // A symlink replacing a directory hides what lower layers had under it.
                    self.remove_children(path);
                    self.nodes.insert(
                        path.clone(),
                        Node::Symlink {
                            target: target.clone(),
                            layer: scan.index,
                        },
                    );
                }
                Change::Hardlink { path, target } => {
                    if let Some(n) = self.nodes.get(target).cloned() {
                        self.nodes.insert(path.clone(), n);
                    } else {
                        self.nodes.remove(path);
                    }
                }
                Change::Replaced(p) => self.remove_tree(p),
                Change::Whiteout(_) | Change::Opaque(_) => {}
            }
        }
    }

    /// Resolves every symlink in `path` (chroot semantics: absolute targets and
    /// `..` stay inside the image). Returns the real path.
    pub fn resolve(&self, path: &str) -> Result<String, VfsError> {
        let mut hops = 0usize;
        let mut current = crate::normalize(path).unwrap_or_else(|| "/".to_string());
        'restart: loop {
            let mut built = String::new();
            let comps: Vec<&str> = current.split('/').filter(|c| !c.is_empty()).collect();
            for (i, c) in comps.iter().enumerate() {
                built.push('/');
                built.push_str(c);
                if let Some(Node::Symlink { target, .. }) = self.nodes.get(&built) {
                    hops += 1;
                    if hops > self.max_hops {
                        return Err(VfsError::SymlinkLoop {
                            path: path.to_string(),
                            limit: self.max_hops,
                        });
                    }
                    let mut next = resolve_link(parent(&built), target);
                    for rest in comps.iter().skip(i + 1) {
                        if !next.ends_with('/') {
                            next.push('/');
                        }
                        next.push_str(rest);
                    }
                    current = next;
                    continue 'restart;
                }
            }
            return Ok(if built.is_empty() {
                "/".to_string()
            } else {
                built
            });
        }
    }

    /// Reads a captured file, following symlinks. `Ok(None)` when absent.
    pub fn read(&self, path: &str) -> Result<Option<VfsFile>, VfsError> {
        let real = self.resolve(path)?;
        Ok(match self.nodes.get(&real) {
            Some(Node::File { data, layer, by }) => Some(VfsFile {
                path: real,
                data: data.clone(),
                layer: *layer,
                extracted_by: *by,
            }),
            _ => None,
        })
    }

    /// Captured files directly inside directory `dir` (after resolving it), sorted by name.
    pub fn list_dir(&self, dir: &str) -> Result<Vec<VfsFile>, VfsError> {
        let real = self.resolve(dir)?;
        let prefix = if real == "/" {
            "/".to_string()
        } else {
            format!("{real}/")
        };
        let mut out = Vec::new();
        for (k, n) in self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
        {
            let rest = k.get(prefix.len()..).unwrap_or("");
            if rest.contains('/') {
                continue;
            }
            match n {
                Node::File { data, layer, by } => out.push(VfsFile {
                    path: k.clone(),
                    data: data.clone(),
                    layer: *layer,
                    extracted_by: *by,
                }),
                Node::Symlink { .. } => {
                    if let Ok(Some(f)) = self.read(k) {
                        out.push(VfsFile {
                            path: k.clone(),
                            ..f
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// True when both views hold the same captured files (by identity, so
    /// this is cheap) and the same symlinks.
    pub fn same_files(&self, other: &Vfs) -> bool {
        self.nodes.len() == other.nodes.len()
            && self
                .nodes
                .iter()
                .zip(other.nodes.iter())
                .all(|((ka, a), (kb, b))| {
                    ka == kb
                        && match (a, b) {
                            (Node::File { data: x, .. }, Node::File { data: y, .. }) => {
                                Arc::ptr_eq(x, y)
                            }
                            (Node::Symlink { target: x, .. }, Node::Symlink { target: y, .. }) => {
                                x == y
                            }
                            _ => false,
                        }
                })
    }

    /// Captured file paths (not symlinks), for diagnostics.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.nodes
            .iter()
            .filter(|(_, n)| matches!(n, Node::File { .. }))
            .map(|(k, _)| k.as_str())
    }

    /// True when `path` or anything under it was captured.
    pub fn has_under(&self, dir: &str) -> bool {
        self.nodes.keys().any(|k| k == dir || under(k, dir))
    }
}

/// The image after every layer: the final view plus the view after each layer.
#[derive(Debug, Default)]
pub struct Squashed {
    /// `snapshots[i]` is the view after applying layers `0..=i`; the last one is the image.
    pub snapshots: Vec<Vfs>,
    pub warnings: Vec<Warning>,
    /// Total entries walked and uncompressed bytes read, for reporting.
    pub entries: u64,
}

impl Squashed {
    /// A one-layer image holding exactly these files (tests and fuzzing).
    pub fn from_files(files: &[(&str, &[u8])]) -> Squashed {
        let changes = files
            .iter()
            .filter_map(|(p, d)| {
                crate::normalize(p).map(|path| Change::File {
                    path,
                    data: Arc::from(*d),
                    by: None,
                })
            })
            .collect();
        let scan = LayerScan {
            changes,
            ..LayerScan::default()
        };
        squash(vec![scan], &Limits::default()).unwrap_or_default()
    }

    /// The final view (an empty one for an image with no layers).
    pub fn view(&self) -> Vfs {
        self.snapshots.last().cloned().unwrap_or_default()
    }

    pub fn final_view(&self) -> Option<&Vfs> {
        self.snapshots.last()
    }
}

pub fn squash(scans: Vec<LayerScan>, limits: &Limits) -> Result<Squashed, ImageError> {
    let mut vfs = Vfs {
        nodes: BTreeMap::new(),
        max_hops: limits.max_symlink_hops,
    };
    let mut out = Squashed::default();
    for s in scans {
        out.entries += s.entries;
        vfs.apply(&s);
        out.snapshots.push(vfs.clone());
    }
    if out.snapshots.is_empty() {
        out.snapshots.push(vfs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str, s: &str) -> Change {
        Change::File {
            path: p.into(),
            data: Arc::from(s.as_bytes()),
            by: None,
        }
    }

    fn layer(index: usize, changes: Vec<Change>) -> LayerScan {
        LayerScan {
            index,
            changes,
            ..LayerScan::default()
        }
    }

    fn text(v: &Vfs, p: &str) -> Option<String> {
        v.read(p)
            .expect("no loop")
            .map(|f| String::from_utf8_lossy(&f.data).into_owned())
    }

    #[test]
    fn whiteouts_and_opaque_dirs_hide_lower_layers_only() {
        let s = squash(
            vec![
                layer(
                    0,
                    vec![file("/a/x", "0"), file("/a/y", "0"), file("/b/z", "0")],
                ),
                layer(
                    1,
                    vec![
                        Change::Whiteout("/a/x".into()),
                        Change::Opaque("/b".into()),
                        file("/b/new", "1"),
                    ],
                ),
                // A whiteout in the same layer as a file must not hide that file.
                layer(2, vec![file("/c", "2"), Change::Whiteout("/c".into())]),
            ],
            &Limits::default(),
        )
        .expect("squash");
        let v = s.view();
        assert_eq!(text(&v, "/a/x"), None);
        assert_eq!(text(&v, "/a/y").as_deref(), Some("0"));
        assert_eq!(text(&v, "/b/z"), None);
        assert_eq!(text(&v, "/b/new").as_deref(), Some("1"));
        assert_eq!(text(&v, "/c").as_deref(), Some("2"));
        assert_eq!(text(&s.snapshots[0], "/a/x").as_deref(), Some("0"));
    }

    #[test]
    fn symlinks_resolve_inside_root_and_loops_stop() {
        let s = squash(
            vec![layer(
                0,
                vec![
                    file("/usr/lib/os-release", "ID=x"),
                    Change::Symlink {
                        path: "/etc/os-release".into(),
                        target: "../usr/lib/os-release".into(),
                    },
                    Change::Symlink {
                        path: "/escape".into(),
                        target: "/../../../usr/lib".into(),
                    },
                    Change::Symlink {
                        path: "/loop1".into(),
                        target: "loop2".into(),
                    },
                    Change::Symlink {
                        path: "/loop2".into(),
                        target: "/loop1".into(),
                    },
                ],
            )],
            &Limits::default(),
        )
        .expect("squash");
        let v = s.view();
        assert_eq!(text(&v, "/etc/os-release").as_deref(), Some("ID=x"));
        assert_eq!(text(&v, "/escape/os-release").as_deref(), Some("ID=x"));
        assert!(matches!(
            v.read("/loop1/x"),
            Err(VfsError::SymlinkLoop { .. })
        ));
    }

    #[test]
    fn symlink_over_directory_hides_its_old_contents() {
        let s = squash(
            vec![
                layer(0, vec![file("/var/lib/rpm/Packages", "old")]),
                layer(
                    1,
                    vec![
                        Change::Symlink {
                            path: "/var/lib/rpm".into(),
                            target: "../../usr/lib/sysimage/rpm".into(),
                        },
                        file("/usr/lib/sysimage/rpm/rpmdb.sqlite", "new"),
                    ],
                ),
            ],
            &Limits::default(),
        )
        .expect("squash");
        let v = s.view();
        assert_eq!(text(&v, "/var/lib/rpm/Packages"), None);
        assert_eq!(
            text(&v, "/var/lib/rpm/rpmdb.sqlite").as_deref(),
            Some("new")
        );
        let listed: Vec<String> = v
            .list_dir("/var/lib/rpm")
            .expect("list")
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(
            listed,
            vec!["/usr/lib/sysimage/rpm/rpmdb.sqlite".to_string()]
        );
    }
}
