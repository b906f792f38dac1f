//! CVSS v2.0 (FIRST, "A Complete Guide to the Common Vulnerability Scoring System
//! Version 2.0", section 3.2). The equations run in exact decimal arithmetic, so
//! `round_to_1_decimal` sees the true value rather than a binary approximation.

use crate::parse::{def, Group, MetricDef, Metrics};

use Group::{Base, Environmental, Temporal};

/// The v2.0 metrics in the guide's order. The first value of optional metrics is
/// `ND` (not defined).
pub(crate) static METRICS: [MetricDef; 14] = [
    def("AV", Base, &["L", "A", "N"]),
    def("AC", Base, &["H", "M", "L"]),
    def("Au", Base, &["M", "S", "N"]),
    def("C", Base, &["N", "P", "C"]),
    def("I", Base, &["N", "P", "C"]),
    def("A", Base, &["N", "P", "C"]),
    def("E", Temporal, &["ND", "U", "POC", "F", "H"]),
    def("RL", Temporal, &["ND", "OF", "TF", "W", "U"]),
    def("RC", Temporal, &["ND", "UC", "UR", "C"]),
    def("CDP", Environmental, &["ND", "N", "L", "LM", "MH", "H"]),
    def("TD", Environmental, &["ND", "N", "L", "M", "H"]),
    def("CR", Environmental, &["ND", "L", "M", "H"]),
    def("IR", Environmental, &["ND", "L", "M", "H"]),
    def("AR", Environmental, &["ND", "L", "M", "H"]),
];

/// An exact decimal `mantissa / 10^scale`. The v2.0 equations never need more than
/// 25 significant digits (constants have at most three decimals and the deepest
/// expression multiplies eight of them), far inside `i128`; the saturating
/// operations only guarantee that no input can make this code panic.
#[derive(Debug, Clone, Copy)]
struct Dec {
    mantissa: i128,
    scale: u32,
}

const fn dec(mantissa: i128, scale: u32) -> Dec {
    Dec { mantissa, scale }
}

const ZERO: Dec = dec(0, 0);
const ONE: Dec = dec(1, 0);
const TEN: Dec = dec(10, 0);

fn pow10(n: u32) -> i128 {
    10i128.saturating_pow(n)
}

impl Dec {
    fn rescaled(self, scale: u32) -> i128 {
        self.mantissa
            .saturating_mul(pow10(scale.saturating_sub(self.scale)))
    }

    fn mul(self, o: Dec) -> Dec {
        dec(
            self.mantissa.saturating_mul(o.mantissa),
            self.scale.saturating_add(o.scale),
        )
    }

    fn add(self, o: Dec) -> Dec {
        let scale = self.scale.max(o.scale);
        dec(
            self.rescaled(scale).saturating_add(o.rescaled(scale)),
            scale,
        )
    }

    fn sub(self, o: Dec) -> Dec {
        self.add(dec(o.mantissa.saturating_neg(), o.scale))
    }

    fn cmp(self, o: Dec) -> std::cmp::Ordering {
        let scale = self.scale.max(o.scale);
        self.rescaled(scale).cmp(&o.rescaled(scale))
    }

    fn min(self, o: Dec) -> Dec {
        if self.cmp(o).is_gt() {
            o
        } else {
            self
        }
    }

    fn max(self, o: Dec) -> Dec {
        if self.cmp(o).is_lt() {
            o
        } else {
            self
        }
    }

    fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// `round_to_1_decimal`: to one decimal, halves away from zero.
    fn round1(self) -> Dec {
        if self.scale <= 1 {
            return dec(self.rescaled(1), 1);
        }
        let d = pow10(self.scale - 1);
        let q = self.mantissa / d;
        let r = self.mantissa % d;
        let q = if r.unsigned_abs().saturating_mul(2) >= d.unsigned_abs() {
            q + self.mantissa.signum()
        } else {
            q
        };
        dec(q, 1)
    }

    fn to_f64(self) -> f64 {
        // Only called on one-decimal results: a single correctly rounded division.
        self.mantissa as f64 / pow10(self.scale) as f64
    }
}

fn access_vector(v: &str) -> Dec {
    match v {
        "L" => dec(395, 3),
        "A" => dec(646, 3),
        _ => ONE, // N
    }
}

fn access_complexity(v: &str) -> Dec {
    match v {
        "H" => dec(35, 2),
        "M" => dec(61, 2),
        _ => dec(71, 2), // L
    }
}

fn authentication(v: &str) -> Dec {
    match v {
        "M" => dec(45, 2),
        "S" => dec(56, 2),
        _ => dec(704, 3), // N
    }
}

fn impact(v: &str) -> Dec {
    match v {
        "P" => dec(275, 3),
        "C" => dec(660, 3),
        _ => ZERO, // N
    }
}

fn exploitability(v: &str) -> Dec {
    match v {
        "U" => dec(85, 2),
        "POC" => dec(9, 1),
        "F" => dec(95, 2),
        _ => ONE, // H, ND
    }
}

fn remediation_level(v: &str) -> Dec {
    match v {
        "OF" => dec(87, 2),
        "TF" => dec(90, 2),
        "W" => dec(95, 2),
        _ => ONE, // U, ND
    }
}

fn report_confidence(v: &str) -> Dec {
    match v {
        "UC" => dec(9, 1),
        "UR" => dec(95, 2),
        _ => ONE, // C, ND
    }
}

fn collateral_damage(v: &str) -> Dec {
    match v {
        "L" => dec(1, 1),
        "LM" => dec(3, 1),
        "MH" => dec(4, 1),
        "H" => dec(5, 1),
        _ => ZERO, // N, ND
    }
}

fn target_distribution(v: &str) -> Dec {
    match v {
        "N" => ZERO,
        "L" => dec(25, 2),
        "M" => dec(75, 2),
        _ => ONE, // H, ND
    }
}

fn requirement(v: &str) -> Dec {
    match v {
        "L" => dec(5, 1),
        "H" => dec(151, 2),
        _ => ONE, // M, ND
    }
}

/// `round_to_1_decimal(((0.6*Impact)+(0.4*Exploitability)-1.5)*f(Impact))`, with the
/// plain or the adjusted (environmental) impact.
fn base_equation(m: &Metrics, adjusted: bool) -> Dec {
    let req = |key: &str| {
        if adjusted {
            requirement(m.get(key))
        } else {
            ONE
        }
    };
    let loss = |cia: &str, r: &str| ONE.sub(impact(m.get(cia)).mul(req(r)));
    let mut imp =
        dec(1041, 2).mul(ONE.sub(loss("C", "CR").mul(loss("I", "IR")).mul(loss("A", "AR"))));
    if adjusted {
        imp = imp.min(TEN);
    }
    let expl = dec(20, 0)
        .mul(access_vector(m.get("AV")))
        .mul(access_complexity(m.get("AC")))
        .mul(authentication(m.get("Au")));
    let f = if imp.is_zero() { ZERO } else { dec(1176, 3) };
    dec(6, 1)
        .mul(imp)
        .add(dec(4, 1).mul(expl))
        .sub(dec(15, 1))
        .mul(f)
        .round1()
}

fn temporal_equation(m: &Metrics, base: Dec) -> Dec {
    base.mul(exploitability(m.get("E")))
        .mul(remediation_level(m.get("RL")))
        .mul(report_confidence(m.get("RC")))
        .round1()
}

/// Base, temporal (if any temporal metric is defined) and environmental (if any
/// environmental metric is defined) scores.
pub(crate) fn scores(m: &Metrics) -> (f64, Option<f64>, Option<f64>) {
    let base = base_equation(m, false).max(ZERO);
    let temporal = m
        .any_defined(Temporal)
        .then(|| temporal_equation(m, base).max(ZERO).to_f64());
    let environmental = m.any_defined(Environmental).then(|| {
        let adjusted_temporal = temporal_equation(m, base_equation(m, true));
        adjusted_temporal
            .add(
                TEN.sub(adjusted_temporal)
                    .mul(collateral_damage(m.get("CDP"))),
            )
            .mul(target_distribution(m.get("TD")))
            .round1()
            .max(ZERO)
            .to_f64()
    });
    (base.to_f64(), temporal, environmental)
}
