//! Text the sensor reads from /proc and cgroupfs, which processes inside a
//! container shape (their names, arguments, mount points, interface names):
//! the parsers must never panic, loop or grow without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = caisson_sensor::procfs::split_cmdline(data);
    let text = String::from_utf8_lossy(data);
    let _ = caisson_sensor::procfs::parse_stat(&text);
    let _ = caisson_sensor::procfs::parse_uid(&text);
    let paths = caisson_sensor::resources::CgroupPaths::parse(&text);
    assert!(paths.v1.len() <= 64);
    let _ = caisson_sensor::resources::stat_value(&text, "total_rss");
    let _ = caisson_sensor::resources::net_dev_totals(&text);
    #[cfg(target_os = "linux")]
    let _ = caisson_sensor::source::watch::overlay_upper(&text);
});
