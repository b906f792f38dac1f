/// Bounds on the work and memory one image may cost. Defaults suit real images;
/// tests lower them to exercise the limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest uncompressed size of one layer.
    pub max_layer_bytes: u64,
    /// Largest ratio of uncompressed to compressed bytes once past `ratio_grace_bytes`
    /// (a gzip bomb has a ratio of ~1000).
    pub max_compression_ratio: u64,
    pub ratio_grace_bytes: u64,
    /// Most tar entries in one layer.
    pub max_entries_per_layer: u64,
    /// Most bytes captured across all layers (sum of captured file contents).
    pub max_captured_bytes: u64,
    /// Most symlinks followed while resolving one path.
    pub max_symlink_hops: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: 64 << 30,
            max_compression_ratio: 200,
            ratio_grace_bytes: 1 << 30,
            max_entries_per_layer: 5_000_000,
            max_captured_bytes: 2 << 30,
            max_symlink_hops: 40,
        }
    }
}
