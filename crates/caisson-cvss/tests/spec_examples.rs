//! Scores from the specifications' own examples, checked by hand against the
//! documents (and, independently, against the Python oracle).

use caisson_cvss::{score, Score, Severity, Version};

fn s(vector: &str) -> Score {
    score(vector).unwrap_or_else(|e| panic!("{vector}: {e}"))
}

/// "A Complete Guide to the CVSS Version 2.0", section 3.3 "Examples":
/// base, temporal and environmental scores of its three CVEs.
#[test]
fn v2_guide_examples() {
    let cases = [
        // CVE-2002-0392, Apache chunked-encoding memory corruption.
        (
            "AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C/CDP:H/TD:H/CR:M/IR:M/AR:H",
            7.8,
            6.4,
            9.2,
        ),
        // CVE-2003-0818, Microsoft Windows ASN.1 library integer handling.
        (
            "AV:N/AC:L/Au:N/C:C/I:C/A:C/E:F/RL:OF/RC:C/CDP:H/TD:H/CR:M/IR:M/AR:L",
            10.0,
            8.3,
            9.0,
        ),
        // CVE-2003-0062, buffer overflow in NOD32 antivirus.
        (
            "AV:L/AC:H/Au:N/C:C/I:C/A:C/E:POC/RL:OF/RC:C/CDP:H/TD:H/CR:M/IR:M/AR:M",
            6.2,
            4.9,
            7.5,
        ),
    ];
    for (vector, base, temporal, env) in cases {
        let got = s(vector);
        assert_eq!(got.version, Version::V2_0);
        assert_eq!(
            (got.base, got.temporal, got.environmental),
            (base, Some(temporal), Some(env)),
            "{vector}"
        );
        // The same vector in the parenthesised form NVD publishes.
        assert_eq!(s(&format!("({vector})")), got);
    }
    let base_only = s("AV:N/AC:L/Au:N/C:N/I:N/A:C");
    assert_eq!(
        (base_only.base, base_only.temporal, base_only.environmental),
        (7.8, None, None)
    );
    assert_eq!(base_only.severity, Severity::High);
    assert_eq!(s("AV:N/AC:L/Au:N/C:N/I:N/A:N").severity, Severity::Low);
}

/// "CVSS v3.1: Examples" (FIRST): base scores of the documented CVEs. The v3.0
/// examples document scores the same vectors identically.
#[test]
fn v31_examples_document() {
    let cases = [
        ("AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, Severity::Medium), // CVE-2013-1937 phpMyAdmin XSS
        ("AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, Severity::Medium), // CVE-2013-0375 MySQL SQLi
        ("AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, Severity::Low),    // CVE-2014-3566 POODLE
        (
            "AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H",
            9.9,
            Severity::Critical,
        ), // CVE-2012-1516 VMware
        ("AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2, Severity::Medium), // CVE-2009-0783 Tomcat
        ("AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8, Severity::High),   // CVE-2012-0384 Cisco IOS
        ("AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8, Severity::High),   // CVE-2015-1098 iWork
        ("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, Severity::High),   // CVE-2014-0160 Heartbleed
        (
            "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            9.8,
            Severity::Critical,
        ), // CVE-2014-6271 Shellshock
        ("AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8, Severity::Medium), // CVE-2008-1447 DNS Kaminsky
        ("AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8, Severity::Medium), // CVE-2014-2005 Sophos
        ("AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8, Severity::Medium), // CVE-2010-0467 Joomla
        (
            "AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H",
            9.3,
            Severity::Critical,
        ), // CVE-2013-6014 Juniper
        ("AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, Severity::High),   // CVE-2016-1645 Chrome
        ("AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, Severity::None),
    ];
    for (body, base, severity) in cases {
        for (prefix, version) in [("CVSS:3.1", Version::V3_1), ("CVSS:3.0", Version::V3_0)] {
            let got = s(&format!("{prefix}/{body}"));
            assert_eq!(
                (got.version, got.base, got.severity),
                (version, base, severity),
                "{prefix}/{body}"
            );
            assert_eq!((got.temporal, got.environmental), (None, None));
        }
    }
}

/// v3.1 `Roundup` vs the v3.0 float ceil: `RC:U` on a 5.0 base gives 5.0 × 0.92,
/// exactly 4.6 but 4.6000000000000005 in binary. v3.1 (Appendix A) yields 4.6;
/// v3.0's `Math.ceil(x * 10) / 10`, as in FIRST's v3.0 calculator, yields 4.7.
#[test]
fn v31_roundup_fixes_v30_float_ceil() {
    let body = "AV:N/AC:H/PR:L/UI:N/S:U/C:L/I:L/A:L/RC:U";
    let v31 = s(&format!("CVSS:3.1/{body}"));
    let v30 = s(&format!("CVSS:3.0/{body}"));
    assert_eq!((v31.base, v31.temporal), (5.0, Some(4.6)));
    assert_eq!((v30.base, v30.temporal), (5.0, Some(4.7)));
}

/// v3.1 environmental: the Modified Impact under a changed scope uses
/// `7.52 × (MISS − 0.029) − 3.25 × (MISS × 0.9731 − 0.02)^13` where v3.0 has
/// `(MISS − 0.02)^15`. For C:H/I:H/A:N with CR:L, MISS = 1 − 0.72 × 0.44 = 0.6832;
/// M.Exploitability = 8.22 × 0.85 × 0.77 × 0.85 × 0.85 = 3.887. v3.1: M.Impact
/// = 4.919584 − 0.01083 = 4.90875, 1.08 × 8.7958 = 9.4994 → 9.5. v3.0: M.Impact =
/// 4.919584 − 0.00686 = 4.91272, 1.08 × 8.7997 = 9.5037 → 9.6.
#[test]
fn v3_environmental_formula_differs_between_minor_versions() {
    let body = "AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:N/CR:L";
    let v31 = s(&format!("CVSS:3.1/{body}"));
    let v30 = s(&format!("CVSS:3.0/{body}"));
    assert_eq!(
        (v31.base, v31.temporal, v31.environmental),
        (10.0, None, Some(9.5))
    );
    assert_eq!(
        (v30.base, v30.temporal, v30.environmental),
        (10.0, None, Some(9.6))
    );
    assert_eq!(v31.overall_severity(), Severity::Critical);
}

/// CVSS v4.0 scores from FIRST's documentation and calculator.
#[test]
fn v4_examples() {
    // The FIRST calculator's default vector (and the specification's example).
    let s1 = s("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N");
    assert_eq!(
        (s1.version, s1.base, s1.severity),
        (Version::V4_0, 9.3, Severity::Critical)
    );
    assert_eq!(
        (s1.threat, s1.environmental, s1.temporal),
        (None, None, None)
    );
    // Everything at its worst: MacroVector 000100, score 10.
    assert_eq!(
        s("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H").base,
        10.0
    );
    // No impact on either system: 0.0 whatever else (spec 8.2).
    let none = s("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N");
    assert_eq!((none.base, none.severity), (0.0, Severity::None));
    assert_eq!(
        s("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N").base,
        6.9
    );
}

/// A v4.0 score worked by hand through the interpolation of spec section 8.
///
/// `AV:A/PR:L/UI:N` gives EQ1 = 1; AC:L/AT:N EQ2 = 0; VC/VI/VA:H EQ3 = 0; no
/// subsequent impact EQ4 = 2; E:X = A EQ5 = 0; CR:X = H with VC:H EQ6 = 0.
/// MacroVector 100200 scores 8.7. Next lower: EQ1 200200 = 7.0 (available 1.7),
/// EQ2 110200 = 7.7, EQ3/EQ6 max(100201 = 7.5, 101200 = 7.2), EQ4 none, EQ5
/// 100210 = 7.4: four lower MacroVectors. The first EQ1 max vector AV:A/PR:N/UI:N
/// is not exceeded; distance PR:L − PR:N = 0.1 of EQ1's depth 0.4, so EQ1
/// contributes 1.7 × 0.25 = 0.425; all other distances are 0. Mean 0.425 / 4 =
/// 0.10625; 8.7 − 0.10625 = 8.59375, rounded 8.6.
#[test]
fn v4_hand_worked_interpolation() {
    let got = s("CVSS:4.0/AV:A/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N");
    assert_eq!((got.base, got.severity), (8.6, Severity::High));
}

/// Threat and environmental metrics give CVSS-BT / CVSS-BE / CVSS-BTE scores,
/// while `base` stays CVSS-B; supplemental metrics never change a score.
#[test]
fn v4_score_nomenclature() {
    let base = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
    let bt = s(&format!("{base}/E:U"));
    assert_eq!(
        (bt.base, bt.threat, bt.environmental),
        (9.3, Some(8.1), None)
    );
    assert_eq!(bt.overall(), 8.1);
    assert_eq!(bt.overall_severity(), Severity::High);
    // E:A is the default: the threat score equals the base score.
    assert_eq!(s(&format!("{base}/E:A")).threat, Some(9.3));
    // E:X is "not defined": no threat score at all.
    assert_eq!(s(&format!("{base}/E:X")).threat, None);
    let be = s(&format!("{base}/MAV:L/MPR:L/CR:L"));
    assert_eq!(be.threat, None);
    let bte = s(&format!("{base}/E:U/MAV:L/MPR:L/CR:L"));
    assert!(bte.environmental < be.environmental);
    let supp = s(&format!("{base}/S:P/AU:Y/R:I/V:C/RE:H/U:Red"));
    assert_eq!(supp, s(base));
}

#[test]
fn severity_scales() {
    use Severity::*;
    let v3 = [
        (0.0, None),
        (0.1, Low),
        (3.9, Low),
        (4.0, Medium),
        (6.9, Medium),
        (7.0, High),
        (8.9, High),
        (9.0, Critical),
        (10.0, Critical),
    ];
    for (score, sev) in v3 {
        assert_eq!(Severity::from_score(Version::V3_1, score), sev, "{score}");
        assert_eq!(Severity::from_score(Version::V4_0, score), sev, "{score}");
    }
    let v2 = [
        (0.0, Low),
        (3.9, Low),
        (4.0, Medium),
        (6.9, Medium),
        (7.0, High),
        (10.0, High),
    ];
    for (score, sev) in v2 {
        assert_eq!(Severity::from_score(Version::V2_0, score), sev, "{score}");
    }
}
