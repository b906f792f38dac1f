//! Maven's `org.apache.maven.artifact.versioning.ComparableVersion`
//! (maven-artifact 3.8, with MNG-6964): items split on `.`, `-` and digit/letter
//! transitions into nested lists, trailing "null" items (0, "", ga, final,
//! release) dropped, qualifiers ordered alpha < beta < milestone < rc <
//! snapshot < release < sp < anything else (lexically).
//! Every string is a valid Maven version.
//!
//! `ComparableVersion` is not transitive: an item's order against a missing
//! item (the other version ended) contradicts its order against items of
//! other kinds. `1.foo.2 < 1-alpha < 1 < 1.foo.2` (`foo` ranks above the
//! end but below any sub-list, `-alpha` below the end) and
//! `1 < 1.foo.1 < 1.0.alpha.1 < 1` (a `0` item ranks above any qualifier but
//! equal to the end). [`MavenVersion::cmp_maven`] reproduces Maven exactly;
//! `Ord` is a genuine total order that differs from it only in the two
//! places that create such cycles (see [`cmp_total`]).

use std::cmp::Ordering;

use crate::num::Num;

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE_INDEX: u8 = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Qualifier {
    Known(u8),
    Unknown(Box<str>),
}

impl Qualifier {
    fn new(value: &str, followed_by_digit: bool) -> Self {
        let value = match (followed_by_digit, value) {
            (true, "a") => "alpha",
            (true, "b") => "beta",
            (true, "m") => "milestone",
            (_, "ga" | "final" | "release") => "",
            (_, "cr") => "rc",
            (_, v) => v,
        };
        match QUALIFIERS.iter().position(|q| *q == value) {
            Some(i) => Qualifier::Known(i as u8),
            None => Qualifier::Unknown(value.into()),
        }
    }

    /// `comparableQualifier(a).compareTo(comparableQualifier(b))`, where known
    /// qualifiers map to their index and unknown ones to `"7-" + q`.
    fn cmp(&self, other: &Qualifier) -> Ordering {
        match (self, other) {
            (Qualifier::Known(a), Qualifier::Known(b)) => a.cmp(b),
            (Qualifier::Known(_), Qualifier::Unknown(_)) => Ordering::Less,
            (Qualifier::Unknown(_), Qualifier::Known(_)) => Ordering::Greater,
            (Qualifier::Unknown(a), Qualifier::Unknown(b)) => cmp_utf16(a, b),
        }
    }
}

/// Java's `String.compareTo`: UTF-16 code unit order.
fn cmp_utf16(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Int(Num),
    Str(Qualifier),
    List(Vec<Item>),
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n.is_zero(),
            Item::Str(q) => *q == Qualifier::Known(RELEASE_INDEX),
            Item::List(l) => l.is_empty(),
        }
    }

    /// `this.compareTo(other)` with `other` possibly null.
    fn cmp_opt(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Int(n), None) => {
                if n.is_zero() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Int(a), Some(Item::Int(b))) => a.cmp(b),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(q), None) => q.cmp(&Qualifier::Known(RELEASE_INDEX)),
            (Item::Str(_), Some(Item::Int(_) | Item::List(_))) => Ordering::Less,
            (Item::Str(a), Some(Item::Str(b))) => a.cmp(b),
            // MNG-6964: the whole list is compared with null, not just its head.
            (Item::List(l), None) => l
                .iter()
                .map(|i| i.cmp_opt(None))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal),
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => cmp_lists(a, b),
        }
    }
}

fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let ord = match (a.get(i), b.get(i)) {
            (Some(l), r) => l.cmp_opt(r),
            (None, Some(r)) => r.cmp_opt(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Where an item stands relative to a missing item ("the version ended"):
/// below, level with, or above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Below,
    Level,
    Above,
}

/// The total order's view of an item: its side of the end, then its kind
/// (qualifier < sub-list < number, as in Maven), then its value.
fn class(item: Option<&Item>) -> (Side, u8) {
    match item {
        None => (Side::Level, 0),
        Some(Item::Str(q)) => match q.cmp(&Qualifier::Known(RELEASE_INDEX)) {
            Ordering::Less => (Side::Below, 0),
            Ordering::Equal => (Side::Level, 0),
            Ordering::Greater => (Side::Above, 0),
        },
        Some(Item::List(l)) => match cmp_total(l, &[]) {
            Ordering::Less => (Side::Below, 1),
            Ordering::Equal => (Side::Level, 1),
            Ordering::Greater => (Side::Above, 1),
        },
        Some(Item::Int(_)) => (Side::Above, 2),
    }
}

/// A total order on Maven item lists that agrees with `ComparableVersion`
/// except where Maven's own order is cyclic. Items compare by their side of
/// the end (below: pre-release qualifiers and sub-lists that rank below the
/// release; level: the end itself and `ga`/`final`/`release` items; above:
/// every number, `sp`, unknown qualifiers, later sub-lists), then by kind,
/// then by value, lexicographically with a missing item as "the end". That
/// differs from Maven in exactly two item pairings:
/// - a number `0` against the end: Maven calls them equal and lets the items
///   after the `0` decide; here any number ranks above the end. The answers
///   differ only when the zeros are followed by a pre-release qualifier item
///   (`1.0.alpha.1`: Maven says `< 1`, here `> 1`).
/// - a qualifier item at or above the release (`sp`, `foo`, `ga`) against a
///   sub-list below the release (`-alpha`): Maven puts every qualifier below
///   every sub-list; here the qualifier comes after the sub-list
///   (`1.foo.2`: Maven says `< 1-alpha`, here `> 1-alpha`).
fn cmp_total(a: &[Item], b: &[Item]) -> Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let (x, y) = (a.get(i), b.get(i));
        let ord = class(x).cmp(&class(y)).then_with(|| match (x, y) {
            (Some(Item::Int(p)), Some(Item::Int(q))) => p.cmp(q),
            (Some(Item::Str(p)), Some(Item::Str(q))) => p.cmp(q),
            (Some(Item::List(p)), Some(Item::List(q))) => cmp_total(p, q),
            // Same class and kind otherwise means: the end against a
            // release-level qualifier, or the end against itself.
            _ => Ordering::Equal,
        });
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        match list.get(i) {
            Some(item) if item.is_null() => {
                list.remove(i);
            }
            Some(Item::List(_)) => {}
            _ => break,
        }
    }
}

fn parse_item(is_digit: bool, buf: &str) -> Item {
    if is_digit {
        Item::Int(Num::from_digits(buf))
    } else {
        Item::Str(Qualifier::new(buf, false))
    }
}

/// A parsed Maven version.
#[derive(Clone, Debug)]
pub(crate) struct MavenVersion {
    items: Vec<Item>,
}

impl MavenVersion {
    pub(crate) fn parse(input: &str) -> Self {
        let version = input.to_lowercase();
        // The nested lists form a chain: each new list is the last item of the
        // previous one, so keep one Vec per depth and fold them at the end.
        let mut levels: Vec<Vec<Item>> = vec![Vec::new()];
        let push = |levels: &mut Vec<Vec<Item>>, item: Item| {
            if let Some(l) = levels.last_mut() {
                l.push(item);
            }
        };
        let mut is_digit = false;
        let mut start = 0usize;
        for (i, c) in version.char_indices() {
            let piece = version.get(start..i).unwrap_or_default();
            if c == '.' || c == '-' {
                let item = if i == start {
                    Item::Int(Num::ZERO)
                } else {
                    parse_item(is_digit, piece)
                };
                push(&mut levels, item);
                start = i + 1;
                if c == '-' {
                    levels.push(Vec::new());
                }
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    // `1.0.0.X1 < 1.0.0-X2`: a qualifier after other items
                    // opens a sub-list, as `-X` would.
                    if levels.last().is_some_and(|l| !l.is_empty()) {
                        levels.push(Vec::new());
                    }
                    push(&mut levels, Item::Str(Qualifier::new(piece, true)));
                    start = i;
                    levels.push(Vec::new());
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    push(&mut levels, parse_item(true, piece));
                    start = i;
                    levels.push(Vec::new());
                }
                is_digit = false;
            }
        }
        if version.len() > start {
            if !is_digit && levels.last().is_some_and(|l| !l.is_empty()) {
                levels.push(Vec::new());
            }
            let piece = version.get(start..).unwrap_or_default();
            push(&mut levels, parse_item(is_digit, piece));
        }
        let mut deeper: Option<Vec<Item>> = None;
        while let Some(mut level) = levels.pop() {
            if let Some(d) = deeper.take() {
                level.push(Item::List(d));
            }
            normalize(&mut level);
            deeper = Some(level);
        }
        MavenVersion {
            items: deeper.unwrap_or_default(),
        }
    }
}

impl MavenVersion {
    /// `ComparableVersion.compareTo`, exactly (not transitive; see the
    /// module docs).
    pub(crate) fn cmp_maven(&self, other: &Self) -> Ordering {
        cmp_lists(&self.items, &other.items)
    }
}

/// A total order: `cmp_maven` except where Maven's order is cyclic.
impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_total(&self.items, &other.items)
    }
}
impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for MavenVersion {}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    /// Maven's answer.
    fn c(a: &str, b: &str) -> Ordering {
        MavenVersion::parse(a).cmp_maven(&MavenVersion::parse(b))
    }

    /// The total order.
    fn t(a: &str, b: &str) -> Ordering {
        MavenVersion::parse(a).cmp(&MavenVersion::parse(b))
    }

    /// Maven's own cycles (checked with maven-artifact's `ComparableVersion`),
    /// and where the total order breaks each of them.
    #[test]
    fn maven_cycles_are_reproduced_and_ord_breaks_them() {
        assert_eq!(c("1.foo.2", "1-alpha"), Less);
        assert_eq!(c("1-alpha", "1"), Less);
        assert_eq!(c("1", "1.foo.2"), Less);
        assert_eq!(t("1.foo.2", "1-alpha"), Greater);
        assert_eq!(t("1-alpha", "1"), Less);
        assert_eq!(t("1", "1.foo.2"), Less);

        assert_eq!(c("1", "1.foo.1"), Less);
        assert_eq!(c("1.foo.1", "1.0.alpha.1"), Less);
        assert_eq!(c("1.0.alpha.1", "1"), Less);
        assert_eq!(t("1", "1.foo.1"), Less);
        assert_eq!(t("1.foo.1", "1.0.alpha.1"), Less);
        assert_eq!(t("1.0.alpha.1", "1"), Greater);

        assert_eq!(c("1-sp", "1--alpha"), Less);
        assert_eq!(c("1--alpha", "1"), Less);
        assert_eq!(c("1", "1-sp"), Less);
        assert_eq!(t("1-sp", "1--alpha"), Greater);
    }

    /// Versions on which `Ord` may depart from Maven: an item list holding a
    /// qualifier after another item, which happens only when a separator
    /// ends the qualifier (`1.foo.2`, `1.0.alpha.1`, `1.foo.`), or a list
    /// whose first item is a list (`1--alpha`, `-alpha`, `1-0alpha`).
    fn may_deviate(items: &[Item]) -> bool {
        let plain = items.iter().skip(1).any(|i| matches!(i, Item::Str(_)));
        let leading = matches!(items.first(), Some(Item::List(_)));
        plain
            || leading
            || items.iter().any(|i| match i {
                Item::List(l) => may_deviate(l),
                _ => false,
            })
    }

    #[test]
    fn common_versions_do_not_deviate() {
        for v in [
            "1",
            "1.0.1",
            "31.0.1-jre",
            "1-alpha-1",
            "1.0.0.RELEASE",
            "2.5.6.SEC03",
            "1-1",
        ] {
            assert!(!may_deviate(&MavenVersion::parse(v).items), "{v}");
        }
        for v in [
            "1.foo.2",
            "1.0.alpha.1",
            "1.foo.",
            "1--alpha",
            "-alpha",
            "1-0alpha",
        ] {
            assert!(may_deviate(&MavenVersion::parse(v).items), "{v}");
        }
    }

    const TOKENS: &[&str] = &[
        "0",
        "1",
        "2",
        "00",
        "10",
        ".",
        "-",
        "a",
        "b",
        "m",
        "alpha",
        "beta",
        "milestone",
        "rc",
        "cr",
        "snapshot",
        "ga",
        "final",
        "release",
        "sp",
        "foo",
        "x",
        "A",
        "é",
    ];

    fn version() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(TOKENS), 0..9).prop_map(|v| v.concat())
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20000, ..ProptestConfig::default() })]

        /// `Ord` equals Maven's answer except on the documented pairs, and
        /// is transitive.
        #[test]
        fn ord_departs_from_maven_only_where_documented(
            a in version(), b in version(), x in version(),
        ) {
            let (pa, pb, px) = (
                MavenVersion::parse(&a),
                MavenVersion::parse(&b),
                MavenVersion::parse(&format!("{a}{x}")),
            );
            let ax = format!("{a}{x}");
            for (p, q, s, u) in [(&pa, &pb, &a, &b), (&pa, &px, &a, &ax), (&pb, &px, &b, &ax)] {
                if p.cmp(q) != p.cmp_maven(q) {
                    prop_assert!(
                        may_deviate(&p.items) || may_deviate(&q.items),
                        "undocumented deviation {:?} vs {:?}", s, u
                    );
                }
            }
            let v = [&pa, &pb, &px];
            for x in v {
                for y in v {
                    for z in v {
                        if x <= y && y <= z {
                            prop_assert!(x <= z, "not transitive: {:?} {:?} {:?}", a, b, ax);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn documented_order() {
        // From ComparableVersionTest / the Maven docs.
        let ordered = [
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
            "2",
            "2.0.1",
        ];
        for w in ordered.windows(2) {
            if let [a, b] = w {
                assert_eq!(c(a, b), Less, "{a} < {b}");
                assert_eq!(t(a, b), Less, "{a} < {b} (Ord)");
            }
        }
        for (a, b) in [
            ("1", "1.0.0"),
            ("1-ga", "1"),
            ("1-final", "1.0"),
            ("1.0-RELEASE", "1"),
            ("1a1", "1-alpha-1"),
            ("1cr", "1rc"),
        ] {
            assert_eq!(c(a, b), Equal, "{a} = {b}");
            assert_eq!(t(a, b), Equal, "{a} = {b} (Ord)");
        }
    }
}
