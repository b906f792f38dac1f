//! Comparisons per second per scheme: `compare()` on strings (parse both
//! sides each time, as the CLI does) and `Ord` on pre-parsed versions.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use caisson_version::{compare, Ecosystem};

fn samples(eco: Ecosystem) -> &'static [&'static str] {
    match eco {
        Ecosystem::Debian => &[
            "1:2.30-1ubuntu1",
            "2.30-1ubuntu1~20.04",
            "1.0~rc1-2",
            "3.0.0+dfsg-1",
            "2:8.2.3995-1+deb12u1",
        ],
        Ecosystem::Alpine => &[
            "1.2.3-r0",
            "1.2.3_rc1-r2",
            "3.0.8_p1-r1",
            "1.36.1-r5",
            "2.40a-r10",
        ],
        Ecosystem::RedHat => &[
            "1:2.30-1.el8",
            "2.30-1.el8_6.2",
            "1.0~rc1^git2-3.fc38",
            "3.0.7-16.el9",
            "0:4.18.0-477.el9",
        ],
        Ecosystem::PyPI => &["1.0", "1.0.post1", "2.0.0rc1", "1!1.0.dev3", "1.0+ubuntu.1"],
        Ecosystem::Npm | Ecosystem::SemVer | Ecosystem::CratesIo => &[
            "1.2.3",
            "1.2.3-alpha.1",
            "10.20.30",
            "1.0.0-rc.1+build.5",
            "2.0.0-beta.11",
        ],
        Ecosystem::Go => &[
            "v1.2.3",
            "v0.0.0-20191109021931-daa7c04131f5",
            "v2.0.0+incompatible",
            "v1.21",
            "v1.2.4-0.20191109021931-daa7c04131f5",
        ],
        Ecosystem::Maven => &[
            "1.0",
            "1.0-SNAPSHOT",
            "2.13.4.2",
            "1.0.0.Final",
            "5.3.27-rc1",
        ],
        Ecosystem::RubyGems => &["1.0", "1.0.0.rc1", "7.0.4.3", "2.5.0.pre.beta", "1.13.10"],
        Ecosystem::NuGet => &[
            "1.0.0",
            "1.0.0.1",
            "6.0.0-preview.7",
            "13.0.3",
            "2.0.0-RC.1+meta",
        ],
        Ecosystem::Packagist => &["1.0.0", "v2.3.4", "1.0.0-beta2", "5.4.x-dev", "2.0.0-RC1"],
        Ecosystem::Pub => &["1.0.0", "1.0.0-dev.1", "2.18.0+1", "0.13.5", "3.0.0-beta.2"],
        Ecosystem::Hackage => &["1.0", "0.2.10.1", "4.18.2.1", "1.0.0", "2.1"],
        Ecosystem::Cran => &["1.0-3", "4.3.2", "0.9-10", "1.2.3.4", "2.0"],
    }
}

fn bench(c: &mut Criterion) {
    for eco in Ecosystem::ALL {
        let s = samples(eco);
        let pairs: Vec<(&str, &str)> = s
            .iter()
            .flat_map(|a| s.iter().map(move |b| (*a, *b)))
            .collect();
        let mut group = c.benchmark_group(eco.name());
        group.throughput(Throughput::Elements(pairs.len() as u64));
        group.bench_function("compare_str", |b| {
            b.iter(|| {
                for (x, y) in &pairs {
                    let _ = black_box(compare(eco, black_box(x), black_box(y)));
                }
            })
        });
        let parsed: Vec<_> = s.iter().filter_map(|v| eco.parse(v).ok()).collect();
        let n = (parsed.len() * parsed.len()) as u64;
        group.throughput(Throughput::Elements(n));
        group.bench_function("cmp_parsed", |b| {
            b.iter(|| {
                for x in &parsed {
                    for y in &parsed {
                        black_box(x.cmp(y));
                    }
                }
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
