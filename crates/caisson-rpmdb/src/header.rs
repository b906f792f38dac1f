//! The rpm header blob as stored in every rpmdb backend: the "header without
//! lead or signature" of rpm's `headerExport`.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! il: u32   number of index entries
//! dl: u32   length of the data store
//! il × { tag: i32, type: u32, offset: i32, count: u32 }
//! dl bytes of data store
//! ```
//!
//! Region tags (61..=64, e.g. 63 `HEADERIMMUTABLE`) describe signed regions of
//! the header; they are kept as entries but never interpreted here.

use crate::error::HeaderError;
use crate::Limits;

/// Tag numbers from rpm's `include/rpm/rpmtag.h`.
pub mod tag {
    /// `RPMTAG_HEADERIMAGE`, first of the region tags.
    pub const HEADERIMAGE: u32 = 61;
    /// `RPMTAG_HEADERIMMUTABLE`, the region of the header as built.
    pub const HEADERIMMUTABLE: u32 = 63;
    /// `RPMTAG_HEADERREGIONS`, last of the region tags.
    pub const HEADERREGIONS: u32 = 64;
    /// `RPMTAG_NAME` (string).
    pub const NAME: u32 = 1000;
    /// `RPMTAG_VERSION` (string).
    pub const VERSION: u32 = 1001;
    /// `RPMTAG_RELEASE` (string).
    pub const RELEASE: u32 = 1002;
    /// `RPMTAG_EPOCH` (int32).
    pub const EPOCH: u32 = 1003;
    /// `RPMTAG_SUMMARY` (i18n string).
    pub const SUMMARY: u32 = 1004;
    /// `RPMTAG_SIZE` (int32).
    pub const SIZE: u32 = 1009;
    /// `RPMTAG_VENDOR` (string).
    pub const VENDOR: u32 = 1011;
    /// `RPMTAG_LICENSE` (string).
    pub const LICENSE: u32 = 1014;
    /// `RPMTAG_PACKAGER` (string).
    pub const PACKAGER: u32 = 1015;
    /// `RPMTAG_ARCH` (string).
    pub const ARCH: u32 = 1022;
    /// `RPMTAG_OLDFILENAMES` (string array, pre-rpm-4 file lists).
    pub const OLDFILENAMES: u32 = 1027;
    /// `RPMTAG_SOURCERPM` (string).
    pub const SOURCERPM: u32 = 1044;
    /// `RPMTAG_DIRINDEXES` (int32 array).
    pub const DIRINDEXES: u32 = 1116;
    /// `RPMTAG_BASENAMES` (string array).
    pub const BASENAMES: u32 = 1117;
    /// `RPMTAG_DIRNAMES` (string array).
    pub const DIRNAMES: u32 = 1118;
    /// `RPMTAG_LONGSIZE` (int64).
    pub const LONGSIZE: u32 = 5009;
    /// `RPMTAG_FILEDIGESTALGO` (int32, a `PGPHASHALGO_*` value).
    pub const FILEDIGESTALGO: u32 = 5011;
    /// `RPMTAG_MODULARITYLABEL` (string).
    pub const MODULARITYLABEL: u32 = 5096;
}

/// Data type codes (`rpmTagType`).
pub mod ty {
    /// `RPM_NULL_TYPE`.
    pub const NULL: u32 = 0;
    /// `RPM_CHAR_TYPE`.
    pub const CHAR: u32 = 1;
    /// `RPM_INT8_TYPE`.
    pub const INT8: u32 = 2;
    /// `RPM_INT16_TYPE`.
    pub const INT16: u32 = 3;
    /// `RPM_INT32_TYPE`.
    pub const INT32: u32 = 4;
    /// `RPM_INT64_TYPE`.
    pub const INT64: u32 = 5;
    /// `RPM_STRING_TYPE`.
    pub const STRING: u32 = 6;
    /// `RPM_BIN_TYPE`.
    pub const BIN: u32 = 7;
    /// `RPM_STRING_ARRAY_TYPE`.
    pub const STRING_ARRAY: u32 = 8;
    /// `RPM_I18NSTRING_TYPE`.
    pub const I18NSTRING: u32 = 9;
}

const PREAMBLE: usize = 8;
const ENTRY_SIZE: usize = 16;

/// One index entry of a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Tag number.
    pub tag: u32,
    /// Type code, one of [`ty`].
    pub ty: u32,
    /// Offset of the value in the data store.
    pub offset: u32,
    /// Number of elements.
    pub count: u32,
}

/// A parsed header: validated index plus a borrowed data store.
#[derive(Debug)]
pub struct Header<'a> {
    entries: Vec<IndexEntry>,
    data: &'a [u8],
}

pub(crate) fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

fn fixed_size(ty_code: u32) -> Option<u64> {
    match ty_code {
        ty::NULL => Some(0),
        ty::CHAR | ty::INT8 | ty::BIN => Some(1),
        ty::INT16 => Some(2),
        ty::INT32 => Some(4),
        ty::INT64 => Some(8),
        _ => None,
    }
}

fn is_region_tag(t: u32) -> bool {
    (tag::HEADERIMAGE..=tag::HEADERREGIONS).contains(&t)
}

impl<'a> Header<'a> {
    /// Parses and bounds-checks a header blob. The blob must be exactly
    /// `8 + 16 * il + dl` bytes long.
    pub fn parse(blob: &'a [u8], limits: &Limits) -> Result<Self, HeaderError> {
        let len = blob.len();
        if len > limits.max_header_bytes {
            return Err(HeaderError::limit(
                "header size",
                len,
                limits.max_header_bytes,
            ));
        }
        let (Some(il), Some(dl)) = (be32(blob, 0), be32(blob, 4)) else {
            return Err(HeaderError::TooShort {
                len,
                reason: "missing il/dl preamble",
            });
        };
        let il_usize = usize::try_from(il).unwrap_or(usize::MAX);
        if il_usize > limits.max_index_entries {
            return Err(HeaderError::limit(
                "index entry count",
                il,
                limits.max_index_entries,
            ));
        }
        let dl_usize = usize::try_from(dl).unwrap_or(usize::MAX);
        if dl_usize > limits.max_header_bytes {
            return Err(HeaderError::limit(
                "data store length",
                dl,
                limits.max_header_bytes,
            ));
        }
        // Both factors are bounded above, so this cannot overflow on 64-bit, but stay checked.
        let index_end = il_usize
            .checked_mul(ENTRY_SIZE)
            .and_then(|n| n.checked_add(PREAMBLE))
            .ok_or(HeaderError::TooShort {
                len,
                reason: "index length overflows",
            })?;
        let need = index_end
            .checked_add(dl_usize)
            .ok_or(HeaderError::TooShort {
                len,
                reason: "header length overflows",
            })?;
        if len < need {
            return Err(HeaderError::TooShort {
                len,
                reason: "index entries and data store announced by il/dl",
            });
        }
        if len > need {
            return Err(HeaderError::TrailingBytes {
                len,
                extra: len - need,
            });
        }
        let index = blob.get(PREAMBLE..index_end).unwrap_or_default();
        let data = blob.get(index_end..need).unwrap_or_default();
        let mut entries = Vec::with_capacity(il_usize);
        for raw in index.chunks_exact(ENTRY_SIZE) {
            let field = |i: usize| be32(raw, i * 4).unwrap_or_default();
            let entry = IndexEntry {
                tag: field(0),
                ty: field(1),
                offset: field(2),
                count: field(3),
            };
            if !is_region_tag(entry.tag) {
                check_entry(&entry, dl)?;
            }
            entries.push(entry);
        }
        Ok(Header { entries, data })
    }

    /// All index entries in stored order.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// The data store.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The first entry with this tag.
    pub fn entry(&self, t: u32) -> Option<IndexEntry> {
        self.entries.iter().find(|e| e.tag == t).copied()
    }

    /// A single string: `STRING`, or the first (untranslated) element of an
    /// `I18NSTRING` or `STRING_ARRAY`. Invalid UTF-8 is replaced lossily.
    pub fn string(&self, t: u32) -> Result<Option<String>, HeaderError> {
        let Some(e) = self.entry(t) else {
            return Ok(None);
        };
        match e.ty {
            ty::STRING | ty::I18NSTRING | ty::STRING_ARRAY => {}
            other => {
                return Err(HeaderError::WrongType {
                    tag: t,
                    ty: other,
                    expected: "string",
                })
            }
        }
        if e.count == 0 {
            return Ok(None);
        }
        let mut strings = StringIter::new(self.data, &e);
        strings.next().transpose()
    }

    /// A `STRING_ARRAY` (or single `STRING`) as a vector, at most `max` elements.
    pub fn string_array(&self, t: u32, max: usize) -> Result<Option<Vec<String>>, HeaderError> {
        let Some(e) = self.entry(t) else {
            return Ok(None);
        };
        match e.ty {
            ty::STRING_ARRAY | ty::STRING | ty::I18NSTRING => {}
            other => {
                return Err(HeaderError::WrongType {
                    tag: t,
                    ty: other,
                    expected: "string array",
                })
            }
        }
        if usize::try_from(e.count).unwrap_or(usize::MAX) > max {
            return Err(HeaderError::limit("string array length", e.count, max));
        }
        StringIter::new(self.data, &e)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// An `INT32` array as a vector, at most `max` elements.
    pub fn int32_array(&self, t: u32, max: usize) -> Result<Option<Vec<u32>>, HeaderError> {
        let Some(e) = self.entry(t) else {
            return Ok(None);
        };
        if e.ty != ty::INT32 {
            return Err(HeaderError::WrongType {
                tag: t,
                ty: e.ty,
                expected: "int32 array",
            });
        }
        if usize::try_from(e.count).unwrap_or(usize::MAX) > max {
            return Err(HeaderError::limit("int32 array length", e.count, max));
        }
        let start = usize::try_from(e.offset).unwrap_or(usize::MAX);
        let bytes = usize::try_from(e.count)
            .ok()
            .and_then(|c| c.checked_mul(4))
            .and_then(|n| start.checked_add(n))
            .and_then(|end| self.data.get(start..end))
            .ok_or(HeaderError::OutOfBounds {
                tag: t,
                offset: e.offset,
                count: e.count,
                dl: u32::try_from(self.data.len()).unwrap_or(u32::MAX),
            })?;
        Ok(Some(
            bytes
                .chunks_exact(4)
                .map(|c| be32(c, 0).unwrap_or_default())
                .collect(),
        ))
    }

    /// The first element of an integer tag (`INT8`..`INT64`, or `CHAR`).
    pub fn number(&self, t: u32) -> Result<Option<u64>, HeaderError> {
        let Some(e) = self.entry(t) else {
            return Ok(None);
        };
        let size = match e.ty {
            ty::CHAR | ty::INT8 => 1,
            ty::INT16 => 2,
            ty::INT32 => 4,
            ty::INT64 => 8,
            other => {
                return Err(HeaderError::WrongType {
                    tag: t,
                    ty: other,
                    expected: "integer",
                })
            }
        };
        if e.count == 0 {
            return Ok(None);
        }
        let start = usize::try_from(e.offset).unwrap_or(usize::MAX);
        let bytes = start
            .checked_add(size)
            .and_then(|end| self.data.get(start..end))
            .ok_or(HeaderError::OutOfBounds {
                tag: t,
                offset: e.offset,
                count: e.count,
                dl: u32::try_from(self.data.len()).unwrap_or(u32::MAX),
            })?;
        Ok(Some(
            bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        ))
    }
}

fn check_entry(e: &IndexEntry, dl: u32) -> Result<(), HeaderError> {
    let out = || HeaderError::OutOfBounds {
        tag: e.tag,
        offset: e.offset,
        count: e.count,
        dl,
    };
    if e.ty > ty::I18NSTRING {
        return Err(HeaderError::UnknownType {
            tag: e.tag,
            ty: e.ty,
        });
    }
    let offset = u64::from(e.offset);
    let count = u64::from(e.count);
    let dl = u64::from(dl);
    match fixed_size(e.ty) {
        Some(size) => {
            if offset + count * size > dl {
                return Err(out());
            }
        }
        None => {
            // Each string takes at least its NUL byte.
            if count > 0 && offset + count > dl {
                return Err(out());
            }
        }
    }
    Ok(())
}

/// Iterates over the NUL-terminated strings of a string-typed entry.
struct StringIter<'a> {
    data: &'a [u8],
    tag: u32,
    pos: usize,
    index: u32,
    count: u32,
}

impl<'a> StringIter<'a> {
    fn new(data: &'a [u8], e: &IndexEntry) -> Self {
        StringIter {
            data,
            tag: e.tag,
            pos: usize::try_from(e.offset).unwrap_or(usize::MAX),
            index: 0,
            count: e.count,
        }
    }
}

impl Iterator for StringIter<'_> {
    type Item = Result<String, HeaderError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.count {
            return None;
        }
        let err = HeaderError::UnterminatedString {
            tag: self.tag,
            index: self.index,
        };
        let rest = match self.data.get(self.pos..) {
            Some(r) => r,
            None => {
                self.index = self.count;
                return Some(Err(err));
            }
        };
        let Some(nul) = rest.iter().position(|b| *b == 0) else {
            self.index = self.count;
            return Some(Err(err));
        };
        let s = String::from_utf8_lossy(rest.get(..nul).unwrap_or_default()).into_owned();
        self.pos = self.pos.saturating_add(nul).saturating_add(1);
        self.index += 1;
        Some(Ok(s))
    }
}
