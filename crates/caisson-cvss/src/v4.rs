//! CVSS v4.0 (FIRST specification document, section 8 "CVSS v4.0 Scoring"): the
//! vector is reduced to a MacroVector of six equivalence classes (EQ1..EQ6) whose
//! expert-assigned score comes from [`crate::v4_table`]; the score then moves down
//! towards the next lower MacroVectors in proportion to the vector's severity
//! distance from the highest vectors of its own MacroVector.

use crate::parse::{def, Group, MetricDef, Metrics};
use crate::round::round_half_up_tenths;
use crate::v4_table::MACRO_SCORES;

use Group::{Base, Environmental, Supplemental, Temporal};

/// The v4.0 metrics in the specification's order (threat metrics use [`Temporal`]).
/// The first value of optional metrics is `X` (not defined).
pub(crate) static METRICS: [MetricDef; 32] = [
    def("AV", Base, &["N", "A", "L", "P"]),
    def("AC", Base, &["L", "H"]),
    def("AT", Base, &["N", "P"]),
    def("PR", Base, &["N", "L", "H"]),
    def("UI", Base, &["N", "P", "A"]),
    def("VC", Base, &["H", "L", "N"]),
    def("VI", Base, &["H", "L", "N"]),
    def("VA", Base, &["H", "L", "N"]),
    def("SC", Base, &["H", "L", "N"]),
    def("SI", Base, &["H", "L", "N"]),
    def("SA", Base, &["H", "L", "N"]),
    def("E", Temporal, &["X", "A", "P", "U"]),
    def("CR", Environmental, &["X", "H", "M", "L"]),
    def("IR", Environmental, &["X", "H", "M", "L"]),
    def("AR", Environmental, &["X", "H", "M", "L"]),
    def("MAV", Environmental, &["X", "N", "A", "L", "P"]),
    def("MAC", Environmental, &["X", "L", "H"]),
    def("MAT", Environmental, &["X", "N", "P"]),
    def("MPR", Environmental, &["X", "N", "L", "H"]),
    def("MUI", Environmental, &["X", "N", "P", "A"]),
    def("MVC", Environmental, &["X", "H", "L", "N"]),
    def("MVI", Environmental, &["X", "H", "L", "N"]),
    def("MVA", Environmental, &["X", "H", "L", "N"]),
    def("MSC", Environmental, &["X", "H", "L", "N"]),
    def("MSI", Environmental, &["X", "S", "H", "L", "N"]),
    def("MSA", Environmental, &["X", "S", "H", "L", "N"]),
    def("S", Supplemental, &["X", "N", "P"]),
    def("AU", Supplemental, &["X", "N", "Y"]),
    def("R", Supplemental, &["X", "A", "U", "I"]),
    def("V", Supplemental, &["X", "D", "C"]),
    def("RE", Supplemental, &["X", "L", "M", "H"]),
    def("U", Supplemental, &["X", "Clear", "Green", "Amber", "Red"]),
];

/// The metrics that enter the score, after the spec's defaults and modifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum M {
    Av,
    Pr,
    Ui,
    Ac,
    At,
    Vc,
    Vi,
    Va,
    Sc,
    Si,
    Sa,
    Cr,
    Ir,
    Ar,
}

/// Effective values: a modified metric (`MAV`...) overrides its base metric unless
/// it is `X`; `E:X` counts as `A` and `CR/IR/AR:X` as `H` (the spec's "worst case").
struct Effective<'a>(&'a Metrics);

impl Effective<'_> {
    fn get(&self, metric: M) -> &'static str {
        let m = self.0;
        let (base, modified) = match metric {
            M::Av => ("AV", "MAV"),
            M::Pr => ("PR", "MPR"),
            M::Ui => ("UI", "MUI"),
            M::Ac => ("AC", "MAC"),
            M::At => ("AT", "MAT"),
            M::Vc => ("VC", "MVC"),
            M::Vi => ("VI", "MVI"),
            M::Va => ("VA", "MVA"),
            M::Sc => ("SC", "MSC"),
            M::Si => ("SI", "MSI"),
            M::Sa => ("SA", "MSA"),
            M::Cr => return requirement(m.get("CR")),
            M::Ir => return requirement(m.get("IR")),
            M::Ar => return requirement(m.get("AR")),
        };
        match m.get(modified) {
            "X" => m.get(base),
            v => v,
        }
    }

    fn is(&self, metric: M, value: &str) -> bool {
        self.get(metric) == value
    }

    fn exploit_maturity(&self) -> &'static str {
        match self.0.get("E") {
            "X" => "A",
            v => v,
        }
    }

    /// The MacroVector `[EQ1, EQ2, EQ3, EQ4, EQ5, EQ6]` (spec, Table 24).
    fn macro_vector(&self) -> [u8; 6] {
        use M::*;
        let eq1 = if self.is(Av, "N") && self.is(Pr, "N") && self.is(Ui, "N") {
            0
        } else if (self.is(Av, "N") || self.is(Pr, "N") || self.is(Ui, "N")) && !self.is(Av, "P") {
            1
        } else {
            2
        };
        let eq2 = u8::from(!(self.is(Ac, "L") && self.is(At, "N")));
        let eq3 = if self.is(Vc, "H") && self.is(Vi, "H") {
            0
        } else if self.is(Vc, "H") || self.is(Vi, "H") || self.is(Va, "H") {
            1
        } else {
            2
        };
        let eq4 = if self.is(Si, "S") || self.is(Sa, "S") {
            0
        } else if self.is(Sc, "H") || self.is(Si, "H") || self.is(Sa, "H") {
            1
        } else {
            2
        };
        let eq5 = match self.exploit_maturity() {
            "A" => 0,
            "P" => 1,
            _ => 2, // U
        };
        let eq6 = u8::from(
            !((self.is(Cr, "H") && self.is(Vc, "H"))
                || (self.is(Ir, "H") && self.is(Vi, "H"))
                || (self.is(Ar, "H") && self.is(Va, "H"))),
        );
        [eq1, eq2, eq3, eq4, eq5, eq6]
    }
}

fn requirement(v: &'static str) -> &'static str {
    match v {
        "X" => "H",
        v => v,
    }
}

/// Severity level of a value inside its metric (spec section 8.2): 0.0 is the most
/// severe value, each step down adds 0.1.
fn level(metric: M, v: &str) -> f64 {
    match (metric, v) {
        (M::Av, "N") | (M::Pr, "N") | (M::Ui, "N") | (M::Ac, "L") | (M::At, "N") => 0.0,
        (M::Av, "A") | (M::Pr, "L") | (M::Ui, "P") | (M::Ac, "H") | (M::At, "P") => 0.1,
        (M::Av, "L") | (M::Pr, "H") | (M::Ui, "A") => 0.2,
        (M::Av, _) => 0.3,
        (M::Vc | M::Vi | M::Va, "H") => 0.0,
        (M::Vc | M::Vi | M::Va, "L") => 0.1,
        (M::Vc | M::Vi | M::Va, _) => 0.2,
        (M::Sc | M::Si | M::Sa, "S") => 0.0,
        (M::Sc | M::Si | M::Sa, "H") => 0.1,
        (M::Sc | M::Si | M::Sa, "L") => 0.2,
        (M::Sc | M::Si | M::Sa, _) => 0.3,
        (M::Cr | M::Ir | M::Ar, "H") => 0.0,
        (M::Cr | M::Ir | M::Ar, "M") => 0.1,
        (M::Cr | M::Ir | M::Ar, _) => 0.2,
        _ => 0.0,
    }
}

/// Index of a MacroVector in [`MACRO_SCORES`].
fn macro_index(mv: [u8; 6]) -> Option<usize> {
    let [e1, e2, e3, e4, e5, e6] = mv;
    if e1 > 2 || e2 > 1 || e3 > 2 || e4 > 2 || e5 > 2 || e6 > 1 {
        return None;
    }
    Some(
        usize::from(e1) * 108
            + usize::from(e2) * 54
            + usize::from(e3) * 18
            + usize::from(e4) * 6
            + usize::from(e5) * 2
            + usize::from(e6),
    )
}

/// The expert score of a MacroVector, `None` for combinations that do not exist.
fn macro_score(mv: [u8; 6]) -> Option<f64> {
    let tenths = *MACRO_SCORES.get(macro_index(mv)?)?;
    (tenths > 0).then(|| f64::from(tenths) / 10.0)
}

/// The MacroVector with EQ number `eq` (1-based) one step less severe.
fn lower(mv: [u8; 6], eq: usize) -> [u8; 6] {
    let mut out = mv;
    if let Some(v) = eq.checked_sub(1).and_then(|i| out.get_mut(i)) {
        *v += 1;
    }
    out
}

// The highest-severity vectors of each EQ level (spec Table 25 / FIRST's
// `max_composed`), as values of the metrics the EQ covers.
const EQ1_MAX: [&[[&str; 3]]; 3] = [
    &[["N", "N", "N"]],
    &[["A", "N", "N"], ["N", "L", "N"], ["N", "N", "P"]],
    &[["P", "N", "N"], ["A", "L", "P"]],
];
const EQ1_METRICS: [M; 3] = [M::Av, M::Pr, M::Ui];
const EQ2_MAX: [&[[&str; 2]]; 2] = [&[["L", "N"]], &[["H", "N"], ["L", "P"]]];
const EQ2_METRICS: [M; 2] = [M::Ac, M::At];
/// Indexed by `[EQ3][EQ6]`.
const EQ36_MAX: [[&[[&str; 6]]; 2]; 3] = [
    [
        &[["H", "H", "H", "H", "H", "H"]],
        &[
            ["H", "H", "L", "M", "M", "H"],
            ["H", "H", "H", "M", "M", "M"],
        ],
    ],
    [
        &[
            ["L", "H", "H", "H", "H", "H"],
            ["H", "L", "H", "H", "H", "H"],
        ],
        &[
            ["L", "H", "L", "H", "M", "H"],
            ["L", "H", "H", "H", "M", "M"],
            ["H", "L", "H", "M", "H", "M"],
            ["H", "L", "L", "M", "H", "H"],
            ["L", "L", "H", "H", "H", "M"],
        ],
    ],
    [&[], &[["L", "L", "L", "H", "H", "H"]]],
];
const EQ36_METRICS: [M; 6] = [M::Vc, M::Vi, M::Va, M::Cr, M::Ir, M::Ar];
const EQ4_MAX: [[&str; 3]; 3] = [["H", "S", "S"], ["H", "H", "H"], ["L", "L", "L"]];
const EQ4_METRICS: [M; 3] = [M::Sc, M::Si, M::Sa];

/// Max severity distance within each EQ level, in steps of 0.1 (FIRST's
/// `max_severity`): `[EQ1; 3]`, `[EQ2; 2]`, `[EQ3][EQ6]`, `[EQ4; 3]`.
const EQ1_DEPTH: [u8; 3] = [1, 4, 5];
const EQ2_DEPTH: [u8; 2] = [1, 2];
const EQ36_DEPTH: [[u8; 2]; 3] = [[7, 6], [8, 8], [0, 10]];
const EQ4_DEPTH: [u8; 3] = [6, 5, 4];

/// Distances (vector level minus max-vector level) for `metrics` against `max`.
fn distances<const N: usize>(e: &Effective<'_>, metrics: &[M; N], max: &[&str; N]) -> [f64; N] {
    let mut out = [0.0; N];
    for ((o, m), mx) in out.iter_mut().zip(metrics).zip(max) {
        *o = level(*m, e.get(*m)) - level(*m, mx);
    }
    out
}

fn table<T: Copy>(t: &[T], i: u8) -> Option<T> {
    t.get(usize::from(i)).copied()
}

/// The v4.0 score of the metrics given (CVSS-B, -BT, -BE or -BTE, depending on
/// which groups `m` holds).
pub(crate) fn score(m: &Metrics) -> f64 {
    compute(m).unwrap_or(0.0)
}

fn compute(m: &Metrics) -> Option<f64> {
    let e = Effective(m);
    use M::*;
    if [Vc, Vi, Va, Sc, Si, Sa].iter().all(|x| e.is(*x, "N")) {
        return Some(0.0);
    }
    let mv = e.macro_vector();
    let [eq1, eq2, eq3, eq4, _eq5, eq6] = mv;
    let value = macro_score(mv)?;

    // Scores of the next lower MacroVector along each equivalence class.
    let next_eq1 = macro_score(lower(mv, 1));
    let next_eq2 = macro_score(lower(mv, 2));
    let next_eq36 = match (eq3, eq6) {
        (0, 0) => {
            // Two ways down; the spec takes the higher of them.
            match (macro_score(lower(mv, 6)), macro_score(lower(mv, 3))) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        }
        (1, 0) => macro_score(lower(mv, 6)),
        (0 | 1, _) => macro_score(lower(mv, 3)),
        _ => macro_score(lower(lower(mv, 3), 6)),
    };
    let next_eq4 = macro_score(lower(mv, 4));
    let next_eq5 = macro_score(lower(mv, 5));

    // The first highest vector of this MacroVector that the vector does not exceed
    // in any metric; its per-metric distances measure how far down the vector sits.
    let eq36_max = *EQ36_MAX.get(usize::from(eq3))?.get(usize::from(eq6))?;
    let mut found = None;
    'search: for max1 in table(&EQ1_MAX, eq1)? {
        for max2 in table(&EQ2_MAX, eq2)? {
            for max36 in eq36_max {
                let max4 = table(&EQ4_MAX, eq4)?;
                // EQ5 (exploit maturity) has a single max vector and no distance.
                let d1 = distances(&e, &EQ1_METRICS, max1);
                let d2 = distances(&e, &EQ2_METRICS, max2);
                let d36 = distances(&e, &EQ36_METRICS, max36);
                let d4 = distances(&e, &EQ4_METRICS, &max4);
                found = Some((d1, d2, d36, d4));
                let all = d1.iter().chain(&d2).chain(&d36).chain(&d4);
                if all.into_iter().all(|d| *d >= 0.0) {
                    break 'search;
                }
            }
        }
    }
    let ([av, pr, ui], [ac, at], [vc, vi, va, cr, ir, ar], [sc, si, sa]) = found?;
    let current_eq1 = av + pr + ui;
    let current_eq2 = ac + at;
    let current_eq36 = vc + vi + va + cr + ir + ar;
    let current_eq4 = sc + si + sa;

    let step = 0.1;
    let depth = |d: Option<u8>| d.map(|d| f64::from(d) * step);
    let classes = [
        (next_eq1, current_eq1, depth(table(&EQ1_DEPTH, eq1))),
        (next_eq2, current_eq2, depth(table(&EQ2_DEPTH, eq2))),
        (
            next_eq36,
            current_eq36,
            depth(EQ36_DEPTH.get(usize::from(eq3)).and_then(|r| table(r, eq6))),
        ),
        (next_eq4, current_eq4, depth(table(&EQ4_DEPTH, eq4))),
        // EQ5: a lower MacroVector counts, but the vector is always at its top.
        (next_eq5, 0.0, Some(1.0)),
    ];
    let mut n_lower = 0u8;
    let mut sum = 0.0;
    for (next, current, max_depth) in classes {
        let Some(available) = next.map(|n| value - n).filter(|a| *a >= 0.0) else {
            continue;
        };
        n_lower += 1;
        sum += available * (current / max_depth?);
    }
    let mean = if n_lower == 0 {
        0.0
    } else {
        sum / f64::from(n_lower)
    };
    let adjusted = (value - mean).clamp(0.0, 10.0);
    Some(round_half_up_tenths(adjusted + 1e-6))
}
