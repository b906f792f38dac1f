//! Hostile input: parsing never panics, rejects what the specifications do not
//! allow with an error naming the problem, and accepts what they do.

mod support;

use caisson_cvss::{parse, score, CvssError, Version, MAX_VECTOR_LEN};
use proptest::prelude::*;
use support::{random_all, random_some, Rng, Table};
use support::{V2_BASE, V2_ENVIRONMENTAL, V2_TEMPORAL, V3_BASE, V3_ENVIRONMENTAL, V3_TEMPORAL};
use support::{V4_BASE, V4_ENVIRONMENTAL, V4_THREAT};

fn err(vector: &str) -> CvssError {
    match parse(vector) {
        Ok(v) => panic!("{vector:?} accepted as {v}"),
        Err(e) => e,
    }
}

#[test]
fn rejects_unknown_metric_and_names_it() {
    let e = err("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y");
    assert!(
        matches!(&e, CvssError::UnknownMetric { metric, version: Version::V3_1, .. } if metric == "XX"),
        "{e:?}"
    );
    assert!(e.to_string().contains(r#""XX""#), "{e}");
    // A v4.0-only metric in a v3.1 vector.
    let e = err("CVSS:3.1/AV:N/AC:L/AT:N/PR:N/UI:N/S:U/C:H/I:H/A:H");
    assert!(
        matches!(&e, CvssError::UnknownMetric { metric, .. } if metric == "AT"),
        "{e:?}"
    );
    // Metric names are case-sensitive (`Au` is v2.0's, `AU` v4.0's).
    let e = err("AV:N/AC:L/AU:N/C:P/I:P/A:P");
    assert!(
        matches!(&e, CvssError::UnknownMetric { metric, version: Version::V2_0, .. } if metric == "AU"),
        "{e:?}"
    );
}

#[test]
fn rejects_invalid_value_and_names_metric() {
    let e = err("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X");
    assert!(
        matches!(&e, CvssError::InvalidValue { metric: "A", value, .. } if value == "X"),
        "{e:?}"
    );
    assert!(e.to_string().contains("metric A"), "{e}");
    // X is not a value of a base metric in v4.0 either, and MSC has no S.
    let v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
    assert!(matches!(
        err(&format!("{v4}/MSC:S")),
        CvssError::InvalidValue { metric: "MSC", .. }
    ));
    assert!(matches!(
        err(&format!("{v4}/U:red")),
        CvssError::InvalidValue { metric: "U", .. }
    ));
}

#[test]
fn rejects_duplicates() {
    let e = err("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:L");
    assert!(
        matches!(e, CvssError::DuplicateMetric { metric: "AV", .. }),
        "{e:?}"
    );
    let e = err("AV:N/AC:L/Au:N/C:P/I:P/A:P/E:U/E:U");
    assert!(
        matches!(e, CvssError::DuplicateMetric { metric: "E", .. }),
        "{e:?}"
    );
    // Even "not defined" twice.
    let e = err("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:X/E:X");
    assert!(
        matches!(e, CvssError::DuplicateMetric { metric: "E", .. }),
        "{e:?}"
    );
}

#[test]
fn rejects_missing_base_metric_and_names_it() {
    let e = err("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H");
    assert!(
        matches!(e, CvssError::MissingMetric { metric: "S", .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("mandatory base metric S"), "{e}");
    let e = err("CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N");
    assert!(
        matches!(e, CvssError::MissingMetric { metric: "AT", .. }),
        "{e:?}"
    );
    let e = err("AV:N/AC:L/Au:N/C:P/I:P");
    assert!(
        matches!(e, CvssError::MissingMetric { metric: "A", .. }),
        "{e:?}"
    );
}

#[test]
fn rejects_bad_prefixes_and_shapes() {
    let body = "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    for bad in [
        format!("CVSS:3.2/{body}"),
        format!("CVSS:2.0/{body}"),
        format!("cvss:3.1/{body}"),
        "CVSS:3.1".to_owned(),
        "(AV:N/AC:L/Au:N/C:P/I:P/A:P".to_owned(),
    ] {
        let e = err(&bad);
        assert!(
            matches!(
                e,
                CvssError::BadPrefix { .. } | CvssError::UnknownMetric { .. }
            ),
            "{bad}: {e:?}"
        );
    }
    assert!(
        matches!(err(&format!("CVSS:3.2/{body}")), CvssError::BadPrefix { prefix, .. } if prefix == "CVSS:3.2/")
    );
    // A v3 body without its prefix is read as v2.0 and fails on the first v3 metric.
    assert!(
        matches!(err(body), CvssError::UnknownMetric { metric, version: Version::V2_0, .. } if metric == "PR")
    );
    for bad in [
        format!("CVSS:3.1/{body}/"),
        format!("CVSS:3.1//{body}"),
        format!("CVSS:3.1/{body}/E"),
        format!("CVSS:3.1/{body}/E:"),
        format!("CVSS:3.1/{body}/:F"),
        format!("CVSS:3.1/{body}/E:F:F"),
    ] {
        assert!(
            matches!(err(&bad), CvssError::MalformedField { .. }),
            "{bad}"
        );
    }
    assert_eq!(err(""), CvssError::Empty);
    assert_eq!(err("  \n"), CvssError::Empty);
    let long = format!("CVSS:3.1/{body}{}", "/E:F".repeat(MAX_VECTOR_LEN));
    assert!(matches!(err(&long), CvssError::TooLong { .. }));
}

#[test]
fn accepts_any_order_and_surrounding_whitespace() {
    let canonical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P";
    let shuffled = " CVSS:3.1/E:P/A:H/I:H/C:H/S:U/UI:N/PR:N/AC:L/AV:N\n";
    assert_eq!(score(canonical), score(shuffled));
    assert_eq!(
        parse(shuffled).map(|v| v.to_string()).as_deref(),
        Ok(canonical)
    );
    let v = parse("(AV:N/AC:L/Au:N/C:P/I:P/A:P)").expect("v2");
    assert_eq!(v.to_string(), "AV:N/AC:L/Au:N/C:P/I:P/A:P");
    assert_eq!(v.metric("Au"), Some("N"));
    assert_eq!(v.metric("E"), None);
}

#[test]
fn error_messages_cut_long_input() {
    let junk = "Z".repeat(900);
    let e = err(&format!("CVSS:3.1/{junk}:A"));
    assert!(e.to_string().len() < 700, "{}", e.to_string().len());
}

/// A valid vector of a random version, from the test tables.
fn valid_vector(rng: &mut Rng) -> String {
    let (prefix, tables): (&str, [Table; 3]) = match rng.below(4) {
        0 => ("", [V2_BASE, V2_TEMPORAL, V2_ENVIRONMENTAL]),
        1 => ("CVSS:3.0/", [V3_BASE, V3_TEMPORAL, V3_ENVIRONMENTAL]),
        2 => ("CVSS:3.1/", [V3_BASE, V3_TEMPORAL, V3_ENVIRONMENTAL]),
        _ => ("CVSS:4.0/", [V4_BASE, V4_THREAT, V4_ENVIRONMENTAL]),
    };
    let mut fields = random_all(rng, tables[0]);
    fields.extend(random_some(rng, tables[1], 50));
    fields.extend(random_some(rng, tables[2], 50));
    rng.shuffle(&mut fields);
    format!("{prefix}{}", fields.join("/"))
}

fn check_score(input: &str) {
    if let Ok(s) = score(input) {
        for x in [Some(s.base), s.temporal, s.threat, s.environmental]
            .into_iter()
            .flatten()
        {
            assert!((0.0..=10.0).contains(&x), "{input}: {x}");
            assert_eq!((x * 10.0).round() / 10.0, x, "{input}: {x} has one decimal");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_strings_never_panic(input in ".{0,300}") {
        check_score(&input);
    }

    #[test]
    fn vector_shaped_strings_never_panic(input in "(CVSS:[34]\\.[01]/)?([A-Za-z]{1,4}:[A-Za-z]{0,5}/?){0,35}") {
        check_score(&input);
    }

    /// Valid vectors parse, score within range, and round-trip through Display;
    /// one mutation (drop, duplicate, truncate or replace a byte) never panics.
    #[test]
    fn mutated_valid_vectors_never_panic(seed in any::<u64>(), op in 0u8..5, at in any::<usize>(), byte in any::<u8>()) {
        let mut rng = Rng::new(seed);
        let vector = valid_vector(&mut rng);
        let parsed = parse(&vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
        prop_assert_eq!(parse(&parsed.to_string()).map(|v| v.score()), Ok(parsed.score()));
        check_score(&vector);
        let mut bytes = vector.into_bytes();
        let i = at % bytes.len().max(1);
        match op {
            0 => { bytes.remove(i); }
            1 => { let b = bytes[i]; bytes.insert(i, b); }
            2 => bytes.truncate(i),
            3 => bytes[i] = byte,
            _ => { let tail = bytes[i..].to_vec(); bytes.extend_from_slice(b"/"); bytes.extend(tail); }
        }
        check_score(&String::from_utf8_lossy(&bytes));
    }
}
