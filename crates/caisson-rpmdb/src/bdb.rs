//! The Berkeley DB hash backend (`/var/lib/rpm/Packages`), read directly from
//! the file format of Berkeley DB 4.x–6.x (`dbinc/db_page.h`, `dbinc/hash.h`).
//!
//! * Page 0 is the hash metadata page: generic `DBMETA` (magic at 12, version
//!   at 16, page size at 20, encryption at 24, page type at 25, flags at 26)
//!   followed by `max_bucket` (72) and the 32 `spares` (96..224). The byte
//!   order of the whole file is the one that makes the magic read `0x061561`.
//! * Bucket `b` starts on page `b + spares[ceil(log2(b + 1))]`; further pages
//!   of the bucket follow `next_pgno`.
//! * A hash page is a 26-byte page header (32 with page checksums), an array
//!   of `entries` u16 item offsets, and items in key/data pairs. An item is
//!   `H_KEYDATA` (type byte + bytes) or `H_OFFPAGE` (type, 3 pad bytes,
//!   `pgno`, `tlen`) pointing at a chain of overflow pages, whose `hf_offset`
//!   is the number of data bytes on that page.
//!
//! Every page is visited at most once per bucket walk and at most once per
//! overflow chain, so loops in hostile files end.

use crate::error::{DbError, HeaderError};
use crate::{DbFormat, Limits, Sink};

const HASH_MAGIC: u32 = 0x0006_1561;
const BTREE_MAGIC: u32 = 0x0005_3162;

const P_INVALID: u8 = 0;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;

const H_KEYDATA: u8 = 1;
const H_DUPLICATE: u8 = 2;
const H_OFFPAGE: u8 = 3;
const H_OFFDUP: u8 = 4;

const PAGE_HEADER: usize = 26;
/// `PG_CHKSUM`: 2 unused bytes + 4-byte checksum after the page header.
const CHKSUM_EXTRA: usize = 6;
const DBMETA_CHKSUM: u8 = 0x01;
const HOFFPAGE_LEN: usize = 12;
const NSPARES: usize = 32;

fn corrupt(reason: impl Into<String>) -> DbError {
    DbError::Corrupt {
        format: DbFormat::BerkeleyDb,
        reason: reason.into(),
    }
}

#[derive(Clone, Copy)]
struct Order {
    big: bool,
}

impl Order {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let raw: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big {
            u16::from_be_bytes(raw)
        } else {
            u16::from_le_bytes(raw)
        })
    }

    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let raw: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        })
    }
}

fn magic_order(bytes: &[u8], magic: u32) -> Option<Order> {
    let le = Order { big: false };
    let be = Order { big: true };
    if le.u32(bytes, 12) == Some(magic) {
        Some(le)
    } else if be.u32(bytes, 12) == Some(magic) {
        Some(be)
    } else {
        None
    }
}

pub(crate) fn has_hash_magic(bytes: &[u8]) -> bool {
    magic_order(bytes, HASH_MAGIC).is_some()
}

struct Db<'a> {
    bytes: &'a [u8],
    order: Order,
    page_size: usize,
    npages: u32,
    overhead: usize,
}

/// The fields of a page header this reader uses.
struct PageHead {
    next: u32,
    entries: u16,
    hf_offset: u16,
    kind: u8,
}

impl<'a> Db<'a> {
    fn page(&self, pgno: u32) -> Option<&'a [u8]> {
        if pgno >= self.npages {
            return None;
        }
        let start = usize::try_from(pgno).ok()?.checked_mul(self.page_size)?;
        self.bytes.get(start..start.checked_add(self.page_size)?)
    }

    fn head(&self, page: &[u8]) -> Option<PageHead> {
        Some(PageHead {
            next: self.order.u32(page, 16)?,
            entries: self.order.u16(page, 20)?,
            hf_offset: self.order.u16(page, 22)?,
            kind: *page.get(25)?,
        })
    }
}

pub(crate) fn read(bytes: &[u8], limits: &Limits, sink: &mut Sink<'_>) -> Result<(), DbError> {
    let Some(order) = magic_order(bytes, HASH_MAGIC) else {
        if magic_order(bytes, BTREE_MAGIC).is_some() {
            return Err(DbError::Unsupported {
                format: DbFormat::BerkeleyDb,
                reason: "btree database; rpm's Packages is a hash database".into(),
            });
        }
        if bytes.len() < 16 {
            return Err(DbError::Truncated {
                format: DbFormat::BerkeleyDb,
                reason: format!("{} bytes, no room for the metadata page", bytes.len()),
            });
        }
        return Err(corrupt("no hash magic 0x061561 at offset 12"));
    };
    let meta = |at: usize| {
        order.u32(bytes, at).ok_or_else(|| DbError::Truncated {
            format: DbFormat::BerkeleyDb,
            reason: format!("metadata page ends before offset {at}"),
        })
    };
    let version = meta(16)?;
    if !(8..=10).contains(&version) {
        return Err(DbError::Unsupported {
            format: DbFormat::BerkeleyDb,
            reason: format!("hash version {version} (supported: 8 to 10)"),
        });
    }
    let page_size = meta(20)?;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(corrupt(format!("page size {page_size}")));
    }
    let page_size = usize::try_from(page_size).map_err(|_| corrupt("page size"))?;
    let byte = |at: usize| bytes.get(at).copied().unwrap_or_default();
    let (encrypt_alg, page_type, meta_flags) = (byte(24), byte(25), byte(26));
    if encrypt_alg != 0 {
        return Err(DbError::Unsupported {
            format: DbFormat::BerkeleyDb,
            reason: "encrypted database".into(),
        });
    }
    if page_type != P_HASHMETA {
        return Err(corrupt(format!(
            "metadata page type {page_type}, expected {P_HASHMETA}"
        )));
    }
    if bytes.len() < page_size {
        return Err(DbError::Truncated {
            format: DbFormat::BerkeleyDb,
            reason: format!(
                "{} bytes, shorter than one {page_size}-byte page",
                bytes.len()
            ),
        });
    }
    let max_bucket = meta(72)?;
    let mut spares = [0u32; NSPARES];
    for (i, s) in spares.iter_mut().enumerate() {
        *s = meta(96 + 4 * i)?;
    }
    let db = Db {
        bytes,
        order,
        page_size,
        npages: u32::try_from(bytes.len() / page_size).unwrap_or(u32::MAX),
        overhead: if meta_flags & DBMETA_CHKSUM != 0 {
            PAGE_HEADER + CHKSUM_EXTRA
        } else {
            PAGE_HEADER
        },
    };
    // A bucket needs at least one page, so more buckets than pages is corruption;
    // this also bounds the loop below by the file size.
    if max_bucket >= db.npages {
        return Err(corrupt(format!(
            "max_bucket {max_bucket} but only {} pages",
            db.npages
        )));
    }
    let mut seen = vec![false; usize::try_from(db.npages).unwrap_or(0)];
    for bucket in 0..=max_bucket {
        let spare = spares
            .get(ceil_log2(bucket.saturating_add(1)))
            .copied()
            .unwrap_or_default();
        let first = bucket
            .checked_add(spare)
            .ok_or_else(|| corrupt(format!("bucket {bucket} page number overflows")))?;
        walk_bucket(&db, bucket, first, &mut seen, limits, sink)?;
    }
    Ok(())
}

/// `__db_log2`: the smallest `i` with `2^i >= n`.
fn ceil_log2(n: u32) -> usize {
    let mut i = 0usize;
    let mut limit: u64 = 1;
    while limit < u64::from(n) {
        limit <<= 1;
        i += 1;
    }
    i
}

fn walk_bucket(
    db: &Db<'_>,
    bucket: u32,
    first: u32,
    seen: &mut [bool],
    limits: &Limits,
    sink: &mut Sink<'_>,
) -> Result<(), DbError> {
    let mut pgno = first;
    loop {
        let page = db.page(pgno).ok_or_else(|| DbError::Truncated {
            format: DbFormat::BerkeleyDb,
            reason: format!("bucket {bucket} page {pgno} is beyond the end of the file"),
        })?;
        let head = db
            .head(page)
            .ok_or_else(|| corrupt(format!("page {pgno} header")))?;
        if head.kind == P_INVALID && pgno == first {
            // Pages of a bucket doubling that were never written: an empty bucket.
            return Ok(());
        }
        if head.kind != P_HASH && head.kind != P_HASH_UNSORTED {
            return Err(corrupt(format!(
                "bucket {bucket} page {pgno} has type {}, expected a hash page",
                head.kind
            )));
        }
        let slot = seen
            .get_mut(usize::try_from(pgno).unwrap_or(usize::MAX))
            .ok_or_else(|| corrupt(format!("page {pgno} out of range")))?;
        if *slot {
            return Err(corrupt(format!(
                "bucket {bucket}: page {pgno} reached twice (page loop)"
            )));
        }
        *slot = true;
        read_hash_page(db, pgno, page, &head, limits, sink)?;
        if head.next == 0 {
            return Ok(());
        }
        pgno = head.next;
    }
}

fn read_hash_page(
    db: &Db<'_>,
    pgno: u32,
    page: &[u8],
    head: &PageHead,
    limits: &Limits,
    sink: &mut Sink<'_>,
) -> Result<(), DbError> {
    let entries = usize::from(head.entries);
    if entries % 2 != 0 {
        return Err(corrupt(format!(
            "page {pgno} has an odd number of items ({entries})"
        )));
    }
    let index_end = db.overhead + 2 * entries;
    if index_end > db.page_size {
        return Err(corrupt(format!(
            "page {pgno}: {entries} items do not fit in the page"
        )));
    }
    let item = |i: usize| -> Result<&[u8], DbError> {
        let bad = || corrupt(format!("page {pgno}: item {i} offset out of range"));
        let start = usize::from(db.order.u16(page, db.overhead + 2 * i).ok_or_else(bad)?);
        let end = if i == 0 {
            db.page_size
        } else {
            usize::from(
                db.order
                    .u16(page, db.overhead + 2 * (i - 1))
                    .ok_or_else(bad)?,
            )
        };
        if start < index_end || start >= end {
            return Err(bad());
        }
        page.get(start..end).ok_or_else(bad)
    };
    for pair in 0..entries / 2 {
        let key = item(2 * pair)?;
        let data = item(2 * pair + 1)?;
        let record = match key {
            [H_KEYDATA, k @ ..] if k.len() == 4 => db.order.u32(k, 0).unwrap_or_default(),
            _ => {
                sink.record(
                    0,
                    Err(HeaderError::Storage(format!(
                        "page {pgno}: key of item pair {pair} is not a 4-byte record number"
                    ))),
                )?;
                continue;
            }
        };
        if record == 0 {
            // rpm's bookkeeping record (next free header number), not a header.
            continue;
        }
        match data.split_first() {
            Some((&H_KEYDATA, value)) => {
                if value.len() > limits.max_header_bytes {
                    sink.record(
                        record,
                        Err(HeaderError::limit(
                            "header size",
                            value.len(),
                            limits.max_header_bytes,
                        )),
                    )?;
                } else {
                    sink.record(record, Ok(value))?;
                }
            }
            Some((&H_OFFPAGE, _)) => match read_overflow(db, data, limits, sink)? {
                Ok(blob) => sink.record(record, Ok(&blob))?,
                Err(e) => sink.record(record, Err(e))?,
            },
            Some((&(H_DUPLICATE | H_OFFDUP), _)) => sink.record(
                record,
                Err(HeaderError::Storage(
                    "duplicate data items are not used by rpm".into(),
                )),
            )?,
            Some((other, _)) => sink.record(
                record,
                Err(HeaderError::Storage(format!(
                    "page {pgno}: unknown item type {other}"
                ))),
            )?,
            None => sink.record(
                record,
                Err(HeaderError::Storage(format!("page {pgno}: empty item"))),
            )?,
        }
    }
    Ok(())
}

/// Follows an `H_OFFPAGE` item's overflow chain and assembles the value.
/// The outer error stops the whole read (a database-wide limit), the inner
/// one concerns this record only.
fn read_overflow(
    db: &Db<'_>,
    item: &[u8],
    limits: &Limits,
    sink: &mut Sink<'_>,
) -> Result<Result<Vec<u8>, HeaderError>, DbError> {
    if item.len() < HOFFPAGE_LEN {
        return Ok(Err(HeaderError::Storage(format!(
            "off-page item of {} bytes, expected {HOFFPAGE_LEN}",
            item.len()
        ))));
    }
    let first = db.order.u32(item, 4).unwrap_or_default();
    let tlen = db.order.u32(item, 8).unwrap_or_default();
    let tlen = usize::try_from(tlen).unwrap_or(usize::MAX);
    if tlen > limits.max_header_bytes {
        return Ok(Err(HeaderError::limit(
            "header size",
            tlen,
            limits.max_header_bytes,
        )));
    }
    // A chain can hold at most (page_size - overhead) bytes per page.
    let per_page = db.page_size - db.overhead;
    let max_pages = tlen / per_page + 1;
    let mut out: Vec<u8> = Vec::with_capacity(tlen.min(db.bytes.len()));
    let mut pgno = first;
    let mut pages = 0usize;
    let result = loop {
        if pgno == 0 {
            break Err(format!(
                "overflow chain ended after {} of {tlen} bytes",
                out.len()
            ));
        }
        pages += 1;
        if pages > max_pages {
            break Err(format!(
                "overflow chain longer than its {tlen}-byte value allows (page loop?)"
            ));
        }
        let Some(page) = db.page(pgno) else {
            break Err(format!(
                "overflow page {pgno} is beyond the end of the file"
            ));
        };
        let Some(head) = db.head(page) else {
            break Err(format!("overflow page {pgno} header"));
        };
        if head.kind != P_OVERFLOW {
            break Err(format!(
                "page {pgno} has type {}, expected an overflow page",
                head.kind
            ));
        }
        let len = usize::from(head.hf_offset);
        let Some(chunk) = page.get(db.overhead..db.overhead.saturating_add(len)) else {
            break Err(format!("overflow page {pgno} claims {len} bytes"));
        };
        if out.len() + chunk.len() > tlen {
            break Err(format!("overflow chain holds more than {tlen} bytes"));
        }
        out.extend_from_slice(chunk);
        if out.len() == tlen {
            break Ok(());
        }
        pgno = head.next;
    };
    match result {
        Ok(()) => Ok(Ok(out)),
        Err(reason) => {
            // Charge the copy even though it is discarded, so that many items
            // sharing one long broken chain cannot make the read unbounded.
            sink.charge(out.len())?;
            Ok(Err(HeaderError::Storage(reason)))
        }
    }
}
