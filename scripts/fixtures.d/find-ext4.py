#!/usr/bin/env python3
"""Print the byte offset and length of the first ext2/3/4 filesystem in a raw disk image.

Looks at the whole disk first, then at MBR and GPT partition entries.
Usage: find-ext4.py DISK.raw  ->  prints "OFFSET LENGTH" (LENGTH 0 = to end of disk).
"""
import struct
import sys


def is_ext(f, offset):
    f.seek(offset + 1024 + 56)  # superblock s_magic
    return f.read(2) == b"\x53\xef"


def candidates(f):
    yield 0, 0
    f.seek(0)
    mbr = f.read(512)
    if len(mbr) == 512 and mbr[510:512] == b"\x55\xaa":
        for i in range(4):
            entry = mbr[446 + 16 * i: 462 + 16 * i]
            ptype = entry[4]
            start, count = struct.unpack("<II", entry[8:16])
            if ptype not in (0, 0xEE) and count:
                yield start * 512, count * 512
    f.seek(512)
    hdr = f.read(92)
    if hdr[:8] == b"EFI PART":
        table_lba, n, size = struct.unpack("<QII", hdr[72:88])
        for i in range(min(n, 128)):
            f.seek(table_lba * 512 + i * size)
            e = f.read(size)
            first, last = struct.unpack("<QQ", e[32:48])
            if e[:16] != b"\0" * 16:
                yield first * 512, (last - first + 1) * 512


def main():
    with open(sys.argv[1], "rb") as f:
        for offset, length in candidates(f):
            if is_ext(f, offset):
                print(offset, length)
                return 0
    print(f"no ext2/3/4 filesystem found in {sys.argv[1]}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
