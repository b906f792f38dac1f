//! CVSS v3.0 and v3.1 (FIRST specification documents, section 7 "CVSS v3.x
//! Equations" and Appendix A for the v3.1 `Roundup`).

use crate::parse::{def, Group, MetricDef, Metrics};
use crate::round::{roundup_v30, roundup_v31};

use Group::{Base, Environmental, Temporal};

/// The v3.x metrics in the specification's order. The first value of optional
/// metrics is `X` (not defined).
pub(crate) static METRICS: [MetricDef; 22] = [
    def("AV", Base, &["N", "A", "L", "P"]),
    def("AC", Base, &["L", "H"]),
    def("PR", Base, &["N", "L", "H"]),
    def("UI", Base, &["N", "R"]),
    def("S", Base, &["U", "C"]),
    def("C", Base, &["H", "L", "N"]),
    def("I", Base, &["H", "L", "N"]),
    def("A", Base, &["H", "L", "N"]),
    def("E", Temporal, &["X", "H", "F", "P", "U"]),
    def("RL", Temporal, &["X", "U", "W", "T", "O"]),
    def("RC", Temporal, &["X", "C", "R", "U"]),
    def("CR", Environmental, &["X", "H", "M", "L"]),
    def("IR", Environmental, &["X", "H", "M", "L"]),
    def("AR", Environmental, &["X", "H", "M", "L"]),
    def("MAV", Environmental, &["X", "N", "A", "L", "P"]),
    def("MAC", Environmental, &["X", "L", "H"]),
    def("MPR", Environmental, &["X", "N", "L", "H"]),
    def("MUI", Environmental, &["X", "N", "R"]),
    def("MS", Environmental, &["X", "U", "C"]),
    def("MC", Environmental, &["X", "H", "L", "N"]),
    def("MI", Environmental, &["X", "H", "L", "N"]),
    def("MA", Environmental, &["X", "H", "L", "N"]),
];

fn attack_vector(v: &str) -> f64 {
    match v {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        _ => 0.2, // P
    }
}

fn attack_complexity(v: &str) -> f64 {
    match v {
        "L" => 0.77,
        _ => 0.44, // H
    }
}

fn privileges_required(v: &str, scope_changed: bool) -> f64 {
    match (v, scope_changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        (_, false) => 0.27, // H
        (_, true) => 0.5,
    }
}

fn user_interaction(v: &str) -> f64 {
    match v {
        "N" => 0.85,
        _ => 0.62, // R
    }
}

fn cia(v: &str) -> f64 {
    match v {
        "H" => 0.56,
        "L" => 0.22,
        _ => 0.0, // N
    }
}

fn exploit_code_maturity(v: &str) -> f64 {
    match v {
        "F" => 0.97,
        "P" => 0.94,
        "U" => 0.91,
        _ => 1.0, // H, X
    }
}

fn remediation_level(v: &str) -> f64 {
    match v {
        "W" => 0.97,
        "T" => 0.96,
        "O" => 0.95,
        _ => 1.0, // U, X
    }
}

fn report_confidence(v: &str) -> f64 {
    match v {
        "R" => 0.96,
        "U" => 0.92,
        _ => 1.0, // C, X
    }
}

fn requirement(v: &str) -> f64 {
    match v {
        "H" => 1.5,
        "L" => 0.5,
        _ => 1.0, // M, X
    }
}

/// Base, temporal and environmental scores of a v3.x vector; `minor` is 0 or 1.
/// Temporal and environmental are `None` unless a metric of their group is defined.
pub(crate) fn scores(m: &Metrics, minor: u8) -> (f64, Option<f64>, Option<f64>) {
    let roundup = if minor == 0 { roundup_v30 } else { roundup_v31 };
    // Modified base metrics fall back to the base value when absent or X.
    let modified = |key: &'static str, base: &'static str| match m.get(key) {
        "X" => m.get(base),
        v => v,
    };

    // Base.
    let changed = m.get("S") == "C";
    let iss = 1.0 - (1.0 - cia(m.get("C"))) * (1.0 - cia(m.get("I"))) * (1.0 - cia(m.get("A")));
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22
        * attack_vector(m.get("AV"))
        * attack_complexity(m.get("AC"))
        * privileges_required(m.get("PR"), changed)
        * user_interaction(m.get("UI"));
    let base = if impact <= 0.0 {
        0.0
    } else if changed {
        roundup((1.08 * (impact + exploitability)).min(10.0))
    } else {
        roundup((impact + exploitability).min(10.0))
    };

    // Temporal.
    let temporal_factor = |score: f64| {
        score
            * exploit_code_maturity(m.get("E"))
            * remediation_level(m.get("RL"))
            * report_confidence(m.get("RC"))
    };
    let temporal = m
        .any_defined(Temporal)
        .then(|| roundup(temporal_factor(base)));

    // Environmental.
    let environmental = m.any_defined(Environmental).then(|| {
        let m_changed = modified("MS", "S") == "C";
        let miss = (1.0
            - (1.0 - cia(modified("MC", "C")) * requirement(m.get("CR")))
                * (1.0 - cia(modified("MI", "I")) * requirement(m.get("IR")))
                * (1.0 - cia(modified("MA", "A")) * requirement(m.get("AR"))))
        .min(0.915);
        let m_impact = if !m_changed {
            6.42 * miss
        } else if minor == 0 {
            7.52 * (miss - 0.029) - 3.25 * (miss - 0.02).powi(15)
        } else {
            7.52 * (miss - 0.029) - 3.25 * (miss * 0.9731 - 0.02).powi(13)
        };
        let m_exploitability = 8.22
            * attack_vector(modified("MAV", "AV"))
            * attack_complexity(modified("MAC", "AC"))
            * privileges_required(modified("MPR", "PR"), m_changed)
            * user_interaction(modified("MUI", "UI"));
        if m_impact <= 0.0 {
            0.0
        } else if m_changed {
            roundup(temporal_factor(roundup(
                (1.08 * (m_impact + m_exploitability)).min(10.0),
            )))
        } else {
            roundup(temporal_factor(roundup(
                (m_impact + m_exploitability).min(10.0),
            )))
        }
    });
    (base, temporal, environmental)
}
