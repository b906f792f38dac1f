//! An independent writer of rpm's ndb `Packages.db`, for tests only.
//!
//! No ndb writer can be installed here (Debian's rpm is built with the
//! `sqlite`, `bdb_ro` and `dummy` backends only), so this follows the layout
//! written by rpm's `lib/backend/ndb/rpmpkg.c` (`rpmpkgWriteHeader`,
//! `rpmpkgWriteEmptySlotpage`, `rpmpkgWriteslot`, `rpmpkgWriteBlob`), written
//! from the C source's constants, not from the reader in `src/ndb.rs`. The
//! Adler-32 comes from the `adler2` crate, not from the reader's own.

const PAGE_SIZE: usize = 4096;
const SLOT_SIZE: usize = 16;
const BLK_SIZE: usize = 16;
const HEADER_SIZE: usize = 32;

pub struct Options {
    /// Leave a free (zeroed) slot and a zeroed gap of blocks before each
    /// blob with an odd index, as a deletion leaves them.
    pub holes: bool,
    /// Number of slot pages (at least enough for all blobs).
    pub min_slot_pages: usize,
}

fn put(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// `blobs`: (pkgidx, header blob).
pub fn write(blobs: &[(u32, Vec<u8>)], opts: &Options) -> Vec<u8> {
    let slots_needed = blobs.len() * if opts.holes { 2 } else { 1 } + HEADER_SIZE / SLOT_SIZE;
    let slot_pages = slots_needed
        .div_ceil(PAGE_SIZE / SLOT_SIZE)
        .max(opts.min_slot_pages)
        .max(1);
    let mut out = vec![0u8; slot_pages * PAGE_SIZE];
    // Every slot position carries the magic (rpmpkgWriteEmptySlotpage), except
    // the first two positions of page 0, which hold the file header.
    for slot in (HEADER_SIZE / SLOT_SIZE)..(slot_pages * PAGE_SIZE / SLOT_SIZE) {
        out[slot * SLOT_SIZE..slot * SLOT_SIZE + 4].copy_from_slice(b"Slot");
    }
    out[0..4].copy_from_slice(b"RpmP");
    put(&mut out, 4, 0); // version
    put(&mut out, 8, 1 + 2 * blobs.len() as u32); // generation
    put(&mut out, 12, slot_pages as u32);
    put(
        &mut out,
        16,
        blobs.iter().map(|(i, _)| *i).max().unwrap_or(0) + 1,
    );

    let mut slotno = HEADER_SIZE / SLOT_SIZE;
    for (n, (pkgidx, blob)) in blobs.iter().enumerate() {
        if opts.holes && n % 2 == 1 {
            slotno += 1; // a freed slot: magic only
            out.resize(out.len() + 3 * BLK_SIZE, 0); // freed blocks are zeroed
        }
        let blkoff = out.len() / BLK_SIZE;
        let blkcnt = (16 + blob.len() + 12).div_ceil(BLK_SIZE);
        let start = out.len();
        out.resize(start + blkcnt * BLK_SIZE, 0);
        out[start..start + 4].copy_from_slice(b"BlbS");
        put(&mut out, start + 4, *pkgidx);
        put(&mut out, start + 8, 1_700_000_000 + *pkgidx); // timestamp
        put(&mut out, start + 12, blob.len() as u32);
        out[start + 16..start + 16 + blob.len()].copy_from_slice(blob);
        let tail = start + blkcnt * BLK_SIZE - 12;
        let adler = adler2::adler32_slice(&out[start..tail]);
        put(&mut out, tail, adler);
        put(&mut out, tail + 4, blob.len() as u32);
        out[tail + 8..tail + 12].copy_from_slice(b"BlbE");

        let s = slotno * SLOT_SIZE;
        put(&mut out, s + 4, *pkgidx);
        put(&mut out, s + 8, blkoff as u32);
        put(&mut out, s + 12, blkcnt as u32);
        slotno += 1;
    }
    out
}
