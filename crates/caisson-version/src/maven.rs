//! Maven's `org.apache.maven.artifact.versioning.ComparableVersion`
//! (maven-artifact 3.8, with MNG-6964): items split on `.`, `-` and digit/letter
//! transitions into nested lists, trailing "null" items (0, "", ga, final,
//! release) dropped, qualifiers ordered alpha < beta < milestone < rc <
//! snapshot < release < sp < anything else (lexically).
//! Every string is a valid Maven version.
//!
//! `ComparableVersion` is not transitive when a qualifier sits between dots
//! (`1.foo.2` keeps `foo` as a plain item, which sorts below any `-` sub-list)
//! while `-alpha` sorts below the release: `1.foo.2 < 1-alpha < 1 < 1.foo.2`.
//! Maven really orders them that way, so this port does too.

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

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_lists(&self.items, &other.items)
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

    fn c(a: &str, b: &str) -> Ordering {
        MavenVersion::parse(a).cmp(&MavenVersion::parse(b))
    }

    /// Maven's own cycle (checked with maven-artifact's `ComparableVersion`).
    #[test]
    fn maven_is_not_transitive_and_neither_is_this_port() {
        assert_eq!(c("1.foo.2", "1-alpha"), Less);
        assert_eq!(c("1-alpha", "1"), Less);
        assert_eq!(c("1", "1.foo.2"), Less);
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
        }
    }
}
