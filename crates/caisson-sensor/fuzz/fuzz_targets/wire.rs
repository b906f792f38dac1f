//! Netlink datagrams as the kernel would send them (or not): the process
//! connector, conntrack and NFLOG decoders must never panic or loop.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut n = 0usize;
    caisson_sensor::wire::proc_connector::decode(data, |_| n += 1);
    caisson_sensor::wire::conntrack::decode(data, |_| n += 1);
    caisson_sensor::wire::nflog::decode(data, |_| n += 1);
    let _ = caisson_sensor::wire::nflog::ip_header(data);
    let _ = caisson_sensor::cgroup::container_id(&String::from_utf8_lossy(data));
});
