//! An unpacked root filesystem on the host, read as one layer. Symlinks are
//! recorded, never followed on the host, so nothing outside the root is read.

use std::path::Path;

use caisson_model::Warning;

use crate::layer::{capture, Change, LayerScan};
use crate::{ImageError, Interest, Limits};

/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 256;

pub fn scan_dir(
    root: &Path,
    interest: &dyn Interest,
    limits: &Limits,
) -> Result<LayerScan, ImageError> {
    let mut scan = LayerScan::default();
    let mut stack: Vec<(std::path::PathBuf, String, usize)> =
        vec![(root.to_path_buf(), String::new(), 0)];
    let mut captured = 0u64;
    while let Some((dir, vpath, depth)) = stack.pop() {
        let rd = match fs_err::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                if depth == 0 {
                    return Err(ImageError::io(&dir, "cannot read root filesystem", e));
                }
                scan.warnings.push(Warning {
                    code: "unreadable-directory".into(),
                    message: format!("skipped {}: {e}", dir.display()),
                });
                continue;
            }
        };
        for ent in rd {
            let Ok(ent) = ent else { continue };
            scan.entries += 1;
            if scan.entries > limits.max_entries_per_layer {
                return Err(ImageError::Invalid {
                    location: root.display().to_string(),
                    what: "root filesystem",
                    reason: format!("more than {} entries", limits.max_entries_per_layer),
                });
            }
            let name = ent.file_name().to_string_lossy().into_owned();
            let path = format!("{vpath}/{name}");
            let Ok(ft) = ent.file_type() else { continue };
            if ft.is_symlink() {
                if let Ok(t) = fs_err::read_link(ent.path()) {
                    scan.changes.push(Change::Symlink {
                        path,
                        target: t.to_string_lossy().into_owned(),
                    });
                }
            } else if ft.is_dir() {
                if depth + 1 > MAX_DEPTH {
                    scan.warnings.push(Warning {
                        code: "directory-too-deep".into(),
                        message: format!("skipped {path}: nested deeper than {MAX_DEPTH}"),
                    });
                    continue;
                }
                stack.push((ent.path(), path, depth + 1));
            } else if ft.is_file() {
                let host = ent.path();
                let Some(cap) = interest.wants(&path) else {
                    extract(&host, &path, interest, &mut scan);
                    continue;
                };
                let read = fs_err::File::open(&host).and_then(|mut f| {
                    let size = f.metadata()?.len();
                    capture(&mut f, size, cap).map(|d| (d, size))
                });
                match read {
                    Ok((Some(data), _)) => {
                        captured += data.len() as u64;
                        if captured > limits.max_captured_bytes {
                            return Err(ImageError::Invalid {
                                location: root.display().to_string(),
                                what: "root filesystem",
                                reason: format!("captured files exceed {} bytes", limits.max_captured_bytes),
                            });
                        }
                        scan.changes.push(Change::File {
                            path,
                            data,
                            by: None,
                        });
                    }
                    Ok((None, size)) => scan.warnings.push(Warning {
                        code: "file-too-large".into(),
                        message: format!("skipped {path}: {size} bytes is over the {cap}-byte limit for this file"),
                    }),
                    Err(e) => scan.warnings.push(Warning {
                        code: "unreadable-file".into(),
                        message: format!("skipped {path}: {e}"),
                    }),
                }
            }
        }
    }
    Ok(scan)
}

/// Runs the interest's extractor, if any, over a host file.
fn extract(host: &Path, path: &str, interest: &dyn Interest, scan: &mut LayerScan) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs_err::symlink_metadata(host) else {
        return;
    };
    let Some(ex) = interest.extractor(path, meta.mode(), meta.len()) else {
        return;
    };
    let result = fs_err::File::open(host)
        .and_then(|mut f| ex.extract_in_layer(scan.index, path, &mut f, meta.len()));
    match result {
        Ok(Some(d)) => scan.changes.push(Change::File {
            path: path.to_string(),
            data: std::sync::Arc::from(d),
            by: Some(ex.name()),
        }),
        Ok(None) => {}
        Err(e) => scan.warnings.push(Warning {
            code: "extractor-failed".into(),
            message: format!("{} could not read {path}: {e}", ex.name()),
        }),
    }
}
