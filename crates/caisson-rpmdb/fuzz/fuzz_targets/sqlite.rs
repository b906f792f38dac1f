//! Fuzzes the Sqlite reader: any bytes must give Ok or Err, never a panic,
//! within the default limits.
#![no_main]

use caisson_rpmdb::{detect, read_packages, DbFormat, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = detect(data);
    let limits = Limits {
        max_sqlite_steps: 10_000_000,
        ..Limits::default()
    };
    let _ = read_packages(DbFormat::Sqlite, data, &limits);
});
