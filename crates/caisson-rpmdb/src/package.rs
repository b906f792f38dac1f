//! [`RpmPackage`]: the fields of an installed package that catalogers need.

use crate::error::HeaderError;
use crate::header::{tag, Header};
use crate::Limits;

/// One installed package as recorded in the rpmdb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpmPackage {
    /// `NAME`.
    pub name: String,
    /// `EPOCH`, absent for most packages.
    pub epoch: Option<u64>,
    /// `VERSION`.
    pub version: String,
    /// `RELEASE`.
    pub release: String,
    /// `ARCH`; absent for `gpg-pubkey` pseudo-packages.
    pub arch: Option<String>,
    /// `SOURCERPM`, e.g. `bash-5.1.8-6.el9.src.rpm`.
    pub source_rpm: Option<String>,
    /// `LICENSE` as written by the packager.
    pub license: Option<String>,
    /// `VENDOR`.
    pub vendor: Option<String>,
    /// `PACKAGER`.
    pub packager: Option<String>,
    /// `SUMMARY` (untranslated).
    pub summary: Option<String>,
    /// Installed size in bytes: `LONGSIZE`, else `SIZE`.
    pub size: Option<u64>,
    /// `MODULARITYLABEL` (Fedora/RHEL modules).
    pub modularity_label: Option<String>,
    /// Owned paths, from `DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]`, or `OLDFILENAMES`.
    pub files: Vec<String>,
    /// `FILEDIGESTALGO`: OpenPGP hash algorithm id of the file digests
    /// (1 = MD5, 2 = SHA-1, 8 = SHA-256, ...); absent means MD5.
    pub file_digest_algo: Option<u32>,
}

impl RpmPackage {
    /// Parses a header blob and extracts the package fields.
    pub fn from_blob(blob: &[u8], limits: &Limits) -> Result<Self, HeaderError> {
        let header = Header::parse(blob, limits)?;
        Self::from_header(&header, limits)
    }

    /// Extracts the package fields from a parsed header.
    pub fn from_header(h: &Header<'_>, limits: &Limits) -> Result<Self, HeaderError> {
        let required = |t: u32, name: &'static str| -> Result<String, HeaderError> {
            h.string(t)?.ok_or(HeaderError::MissingTag { name, tag: t })
        };
        let size = match h.number(tag::LONGSIZE)? {
            Some(s) => Some(s),
            None => h.number(tag::SIZE)?,
        };
        Ok(RpmPackage {
            name: required(tag::NAME, "NAME")?,
            epoch: h.number(tag::EPOCH)?,
            version: required(tag::VERSION, "VERSION")?,
            release: required(tag::RELEASE, "RELEASE")?,
            arch: h.string(tag::ARCH)?,
            source_rpm: h.string(tag::SOURCERPM)?,
            license: h.string(tag::LICENSE)?,
            vendor: h.string(tag::VENDOR)?,
            packager: h.string(tag::PACKAGER)?,
            summary: h.string(tag::SUMMARY)?,
            size,
            modularity_label: h.string(tag::MODULARITYLABEL)?,
            files: file_list(h, limits)?,
            file_digest_algo: h
                .number(tag::FILEDIGESTALGO)?
                .map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
        })
    }
}

fn file_list(h: &Header<'_>, limits: &Limits) -> Result<Vec<String>, HeaderError> {
    let Some(basenames) = h.string_array(tag::BASENAMES, limits.max_files)? else {
        let old = h
            .string_array(tag::OLDFILENAMES, limits.max_files)?
            .unwrap_or_default();
        let bytes: usize = old.iter().map(String::len).sum();
        if bytes > limits.max_file_list_bytes {
            return Err(HeaderError::limit(
                "file list bytes",
                bytes,
                limits.max_file_list_bytes,
            ));
        }
        return Ok(old);
    };
    let dirnames = h
        .string_array(tag::DIRNAMES, limits.max_files)?
        .unwrap_or_default();
    let dirindexes = h
        .int32_array(tag::DIRINDEXES, limits.max_files)?
        .unwrap_or_default();
    if dirindexes.len() != basenames.len() {
        return Err(HeaderError::BadFileList(format!(
            "{} basenames but {} dirindexes",
            basenames.len(),
            dirindexes.len()
        )));
    }
    let mut files = Vec::with_capacity(basenames.len());
    let mut total: usize = 0;
    for (base, index) in basenames.iter().zip(&dirindexes) {
        let dir = usize::try_from(*index)
            .ok()
            .and_then(|i| dirnames.get(i))
            .ok_or_else(|| {
                HeaderError::BadFileList(format!(
                    "dirindex {index} out of range for {} dirnames",
                    dirnames.len()
                ))
            })?;
        total = total.saturating_add(dir.len()).saturating_add(base.len());
        if total > limits.max_file_list_bytes {
            return Err(HeaderError::limit(
                "file list bytes",
                total,
                limits.max_file_list_bytes,
            ));
        }
        let mut path = String::with_capacity(dir.len() + base.len());
        path.push_str(dir);
        path.push_str(base);
        files.push(path);
    }
    Ok(files)
}
