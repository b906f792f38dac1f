// Shared by the targets: run every language cataloger over a one-layer image
// holding `data` at each of `paths`.
pub fn catalog_at(paths: &[&str], data: &[u8]) {
    let files: Vec<(&str, &[u8])> = paths.iter().map(|p| (*p, data)).collect();
    let squashed = caisson_image::Squashed::from_files(&files);
    let view = squashed.view();
    let mut found = caisson_catalog::Found::default();
    for c in caisson_lang::lang_catalogers() {
        c.catalog(&view, None, &mut found);
    }
}
