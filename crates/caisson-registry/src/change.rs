//! Audit details for administrative changes: what a setting was and what it
//! became (`field: old→new`), so the log alone answers "who changed what".

use caisson_registry_store::{Namespace, Role};

fn quota(q: Option<u64>) -> String {
    q.map_or_else(|| "none".to_string(), |b| b.to_string())
}

/// `public: false→true, quota_bytes: none→1048576`; every setting of a new
/// namespace (old `none`); `no change` when nothing differs.
pub fn namespace_change(old: Option<&Namespace>, new: &Namespace) -> String {
    let mut parts = Vec::new();
    match old {
        None => {
            parts.push(format!("public: none→{}", new.public));
            parts.push(format!("immutable_tags: none→{}", new.immutable_tags));
            parts.push(format!("quota_bytes: none→{}", quota(new.quota_bytes)));
        }
        Some(o) => {
            if o.public != new.public {
                parts.push(format!("public: {}→{}", o.public, new.public));
            }
            if o.immutable_tags != new.immutable_tags {
                parts.push(format!(
                    "immutable_tags: {}→{}",
                    o.immutable_tags, new.immutable_tags
                ));
            }
            if o.quota_bytes != new.quota_bytes {
                parts.push(format!(
                    "quota_bytes: {}→{}",
                    quota(o.quota_bytes),
                    quota(new.quota_bytes)
                ));
            }
        }
    }
    if parts.is_empty() {
        "no change".to_string()
    } else {
        parts.join(", ")
    }
}

/// The settings a deleted namespace had: `public: true→none, …`.
pub fn namespace_removed(old: &Namespace) -> String {
    format!(
        "public: {}→none, immutable_tags: {}→none, quota_bytes: {}→none",
        old.public,
        old.immutable_tags,
        quota(old.quota_bytes)
    )
}

/// `role: reader→admin`, `role: none→writer`, `role: writer→none`.
pub fn role_change(old: Option<Role>, new: Option<Role>) -> String {
    let s = |r: Option<Role>| r.map_or("none", Role::as_str);
    format!("role: {}→{}", s(old), s(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(public: bool, immutable_tags: bool, quota_bytes: Option<u64>) -> Namespace {
        Namespace {
            name: "team".into(),
            public,
            immutable_tags,
            quota_bytes,
        }
    }

    #[test]
    fn namespace_diffs_name_only_what_changed() {
        assert_eq!(
            namespace_change(None, &ns(false, true, Some(10))),
            "public: none→false, immutable_tags: none→true, quota_bytes: none→10"
        );
        assert_eq!(
            namespace_change(Some(&ns(false, false, None)), &ns(false, true, Some(5))),
            "immutable_tags: false→true, quota_bytes: none→5"
        );
        assert_eq!(
            namespace_change(Some(&ns(true, false, Some(5))), &ns(true, false, Some(5))),
            "no change"
        );
        assert_eq!(
            namespace_removed(&ns(true, false, None)),
            "public: true→none, immutable_tags: false→none, quota_bytes: none→none"
        );
    }

    #[test]
    fn roles() {
        assert_eq!(role_change(None, Some(Role::Writer)), "role: none→writer");
        assert_eq!(
            role_change(Some(Role::Reader), Some(Role::Admin)),
            "role: reader→admin"
        );
        assert_eq!(role_change(Some(Role::Writer), None), "role: writer→none");
    }
}
