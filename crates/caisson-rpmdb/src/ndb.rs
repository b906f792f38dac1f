//! rpm's own "ndb" package store (`Packages.db`), as written by rpm's
//! `lib/backend/ndb/rpmpkg.c`. All integers are little-endian.
//!
//! * Bytes 0..32: file header: magic `RpmP`, version 0, generation,
//!   `slotnpages`, `nextpkgidx`.
//! * Pages of 4096 bytes `0..slotnpages` hold 16-byte slots (the first two
//!   slot positions of page 0 are the file header): magic `Slot`, `pkgidx`,
//!   `blkoff`, `blkcnt`. `blkoff == 0` marks a free slot.
//! * Blobs live in 16-byte blocks after the slot pages: head (`BlbS`,
//!   `pkgidx`, timestamp, `bloblen`), the header blob, zero padding, tail
//!   (Adler-32 of head + blob + padding, `bloblen`, `BlbE`), filling exactly
//!   `blkcnt = ceil((16 + bloblen + 12) / 16)` blocks.
//!
//! rpm can be built to LZO-compress blobs (`RPMPKG_LZO`); no distribution does,
//! and such blobs are reported as unparsable headers.

use crate::error::{DbError, HeaderError};
use crate::{DbFormat, Limits, Sink};

const FILE_MAGIC: &[u8; 4] = b"RpmP";
const VERSION: u32 = 0;
const FILE_HEADER: usize = 32;
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const SLOT_SIZE: usize = 16;
const BLK_SIZE: usize = 16;
const PAGE_SIZE: usize = 4096;
const BLOBHEAD_MAGIC: &[u8; 4] = b"BlbS";
const BLOBTAIL_MAGIC: &[u8; 4] = b"BlbE";
const BLOBHEAD_SIZE: usize = 16;
const BLOBTAIL_SIZE: usize = 12;

pub(crate) fn has_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(FILE_MAGIC)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw))
}

fn truncated(reason: String) -> DbError {
    DbError::Truncated {
        format: DbFormat::Ndb,
        reason,
    }
}

pub(crate) fn read(bytes: &[u8], limits: &Limits, sink: &mut Sink<'_>) -> Result<(), DbError> {
    if bytes.len() < FILE_HEADER {
        return Err(truncated(format!(
            "{} bytes, shorter than the 32-byte file header",
            bytes.len()
        )));
    }
    if !has_magic(bytes) {
        return Err(DbError::Corrupt {
            format: DbFormat::Ndb,
            reason: "missing RpmP magic".into(),
        });
    }
    let version = le32(bytes, 4).unwrap_or_default();
    if version != VERSION {
        return Err(DbError::Unsupported {
            format: DbFormat::Ndb,
            reason: format!("version {version} (supported: {VERSION})"),
        });
    }
    let slotnpages = le32(bytes, 12).unwrap_or_default();
    let slot_area = usize::try_from(slotnpages)
        .ok()
        .and_then(|n| n.checked_mul(PAGE_SIZE))
        .unwrap_or(usize::MAX);
    if slotnpages == 0 {
        return Err(DbError::Corrupt {
            format: DbFormat::Ndb,
            reason: "no slot pages".into(),
        });
    }
    if slot_area > bytes.len() {
        return Err(truncated(format!(
            "{slotnpages} slot pages announced, file has {} bytes",
            bytes.len()
        )));
    }
    let fileblks = bytes.len() / BLK_SIZE;
    let minblkoff = slot_area / BLK_SIZE;
    let slots = bytes.get(FILE_HEADER..slot_area).unwrap_or_default();
    for (i, slot) in slots.chunks_exact(SLOT_SIZE).enumerate() {
        let slotno = i + FILE_HEADER / SLOT_SIZE;
        if !slot.starts_with(SLOT_MAGIC) {
            return Err(DbError::Corrupt {
                format: DbFormat::Ndb,
                reason: format!("slot {slotno} has no Slot magic"),
            });
        }
        let field = |at: usize| le32(slot, at).unwrap_or_default();
        let (pkgidx, blkoff, blkcnt) = (field(4), field(8), field(12));
        if blkoff == 0 {
            continue; // free slot
        }
        let blob = read_blob(bytes, pkgidx, blkoff, blkcnt, fileblks, minblkoff, limits);
        sink.record(pkgidx, blob)?;
    }
    Ok(())
}

fn read_blob<'a>(
    bytes: &'a [u8],
    pkgidx: u32,
    blkoff: u32,
    blkcnt: u32,
    fileblks: usize,
    minblkoff: usize,
    limits: &Limits,
) -> Result<&'a [u8], HeaderError> {
    let bad =
        |reason: String| HeaderError::Storage(format!("ndb blob of pkgidx {pkgidx}: {reason}"));
    let off = usize::try_from(blkoff).unwrap_or(usize::MAX);
    let cnt = usize::try_from(blkcnt).unwrap_or(usize::MAX);
    if pkgidx == 0 || cnt == 0 || off < minblkoff {
        return Err(bad(format!(
            "invalid slot (blkoff {blkoff}, blkcnt {blkcnt})"
        )));
    }
    if off.saturating_add(cnt) > fileblks {
        return Err(bad(format!(
            "blocks {blkoff}+{blkcnt} run past the end of the file ({fileblks} blocks)"
        )));
    }
    if cnt < (BLOBHEAD_SIZE + BLOBTAIL_SIZE).div_ceil(BLK_SIZE) {
        return Err(bad(format!("{blkcnt} blocks cannot hold a blob frame")));
    }
    let start = off * BLK_SIZE;
    let end = start + cnt * BLK_SIZE;
    let frame = bytes
        .get(start..end)
        .ok_or_else(|| bad("blocks out of range".into()))?;
    if !frame.starts_with(BLOBHEAD_MAGIC) {
        return Err(bad("missing BlbS head magic".into()));
    }
    let head_idx = le32(frame, 4).unwrap_or_default();
    if head_idx != pkgidx {
        return Err(bad(format!("head names pkgidx {head_idx}")));
    }
    let bloblen = le32(frame, 12).unwrap_or_default();
    let len = usize::try_from(bloblen).unwrap_or(usize::MAX);
    if len > limits.max_header_bytes {
        return Err(HeaderError::limit(
            "header size",
            len,
            limits.max_header_bytes,
        ));
    }
    let expect_cnt = (BLOBHEAD_SIZE + len + BLOBTAIL_SIZE).div_ceil(BLK_SIZE);
    if expect_cnt != cnt {
        return Err(bad(format!(
            "{bloblen}-byte blob needs {expect_cnt} blocks, slot says {blkcnt}"
        )));
    }
    let tail_at = frame.len() - BLOBTAIL_SIZE;
    let checked = frame.get(..tail_at).unwrap_or_default();
    let tail = frame.get(tail_at..).unwrap_or_default();
    let stored_adler = le32(tail, 0).unwrap_or_default();
    let tail_len = le32(tail, 4).unwrap_or_default();
    if tail_len != bloblen {
        return Err(bad(format!(
            "tail length {tail_len} differs from head length {bloblen}"
        )));
    }
    if tail.get(8..) != Some(&BLOBTAIL_MAGIC[..]) {
        return Err(bad("missing BlbE tail magic".into()));
    }
    let adler = adler32(checked);
    if adler != stored_adler {
        return Err(bad(format!(
            "Adler-32 mismatch (stored {stored_adler:#010x}, computed {adler:#010x})"
        )));
    }
    frame
        .get(BLOBHEAD_SIZE..BLOBHEAD_SIZE + len)
        .ok_or_else(|| bad("blob out of range".into()))
}

/// Adler-32 (RFC 1950), as rpm's `update_adler32` starting from 1.
pub(crate) fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    // 5552 is the largest n with 255·n·(n+1)/2 + (n+1)·(MOD−1) < 2^32.
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::adler32;

    #[test]
    fn adler32_matches_rfc1950_examples() {
        assert_eq!(adler32(b""), 1);
        // Well-known value: adler32("Wikipedia") = 0x11E60398.
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let big = vec![0xffu8; 100_000];
        assert_eq!(adler32(&big), adler2::adler32_slice(&big));
    }
}
