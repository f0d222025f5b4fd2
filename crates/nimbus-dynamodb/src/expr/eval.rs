//! Evaluating conditions and projections against an item.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::ast::{Cmp, Condition, Operand, Path, PathElem};
use crate::number::Number;
use crate::value::{AttrValue, Map};

/// The value at `path`, if the item has one there.
pub fn resolve<'a>(item: &'a Map, path: &Path) -> Option<&'a AttrValue> {
    let mut elems = path.0.iter();
    let mut current = match elems.next()? {
        PathElem::Name(n) => item.get(n)?,
        PathElem::Index(_) => return None,
    };
    for elem in elems {
        current = match (elem, current) {
            (PathElem::Name(n), AttrValue::M(m)) => m.get(n)?,
            (PathElem::Index(i), AttrValue::L(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

/// `size()`: characters of a string, bytes of a binary, elements of a set, list or map.
fn size_of(v: &AttrValue) -> Option<usize> {
    Some(match v {
        AttrValue::S(s) => s.chars().count(),
        AttrValue::B(b) => b.len(),
        AttrValue::Ss(x) => x.len(),
        AttrValue::Ns(x) => x.len(),
        AttrValue::Bs(x) => x.len(),
        AttrValue::L(x) => x.len(),
        AttrValue::M(x) => x.len(),
        _ => return None,
    })
}

fn operand<'a>(item: &'a Map, op: &'a Operand) -> Option<Cow<'a, AttrValue>> {
    match op {
        Operand::Path(p) => resolve(item, p).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(p) => {
            let n = size_of(resolve(item, p)?)?;
            Some(Cow::Owned(AttrValue::N(Number::from_i64(n as i64))))
        }
    }
}

pub fn matches(item: &Map, cond: &Condition) -> bool {
    match cond {
        Condition::And(a, b) => matches(item, a) && matches(item, b),
        Condition::Or(a, b) => matches(item, a) || matches(item, b),
        Condition::Not(c) => !matches(item, c),
        Condition::Exists(p) => resolve(item, p).is_some(),
        Condition::NotExists(p) => resolve(item, p).is_none(),
        Condition::Compare(a, cmp, b) => {
            let (a, b) = (operand(item, a), operand(item, b));
            match cmp {
                Cmp::Eq => matches!((&a, &b), (Some(a), Some(b)) if a.same(b)),
                Cmp::Ne => !matches!((&a, &b), (Some(a), Some(b)) if a.same(b)),
                _ => {
                    let Some(order) = a.zip(b).and_then(|(a, b)| a.compare(&b)) else { return false };
                    match cmp {
                        Cmp::Lt => order.is_lt(),
                        Cmp::Le => order.is_le(),
                        Cmp::Gt => order.is_gt(),
                        _ => order.is_ge(),
                    }
                }
            }
        }
        Condition::Between(x, low, high) => {
            let (Some(x), Some(low), Some(high)) = (operand(item, x), operand(item, low), operand(item, high)) else {
                return false;
            };
            matches!(low.compare(&x), Some(o) if o.is_le()) && matches!(x.compare(&high), Some(o) if o.is_le())
        }
        Condition::In(x, list) => {
            let Some(x) = operand(item, x) else { return false };
            list.iter().any(|candidate| operand(item, candidate).is_some_and(|c| c.same(&x)))
        }
        Condition::Type(p, t) => {
            let (Some(v), Some(t)) = (resolve(item, p), operand(item, t)) else { return false };
            matches!(&*t, AttrValue::S(name) if **name == *v.type_name())
        }
        Condition::BeginsWith(a, b) => match (operand(item, a).as_deref(), operand(item, b).as_deref()) {
            (Some(AttrValue::S(s)), Some(AttrValue::S(prefix))) => s.starts_with(&**prefix),
            (Some(AttrValue::B(s)), Some(AttrValue::B(prefix))) => s.starts_with(prefix),
            _ => false,
        },
        Condition::Contains(a, b) => match (operand(item, a).as_deref(), operand(item, b).as_deref()) {
            (Some(AttrValue::S(s)), Some(AttrValue::S(part))) => s.contains(&**part),
            (Some(AttrValue::B(s)), Some(AttrValue::B(part))) => {
                part.is_empty() || s.windows(part.len()).any(|w| w == &**part)
            }
            (Some(AttrValue::Ss(set)), Some(AttrValue::S(x))) => set.contains(x),
            (Some(AttrValue::Ns(set)), Some(AttrValue::N(x))) => set.contains(x),
            (Some(AttrValue::Bs(set)), Some(AttrValue::B(x))) => set.contains(x),
            (Some(AttrValue::L(list)), Some(x)) => list.iter().any(|v| v.same(x)),
            _ => false,
        },
    }
}

/// A partial copy of an item being assembled by a projection; list elements are keyed by their
/// original index and close up in index order, as DynamoDB returns them.
enum Node {
    Leaf(AttrValue),
    Map(BTreeMap<Box<str>, Node>),
    List(BTreeMap<usize, Node>),
}

impl Node {
    fn into_value(self) -> AttrValue {
        match self {
            Node::Leaf(v) => v,
            Node::Map(m) => AttrValue::M(m.into_iter().map(|(k, n)| (k.to_string(), n.into_value())).collect()),
            Node::List(l) => AttrValue::L(l.into_values().map(Node::into_value).collect()),
        }
    }
}

/// The item reduced to the projected paths (paths that resolve to nothing are left out).
pub fn project(item: &Map, paths: &[Path]) -> Map {
    let mut root: BTreeMap<Box<str>, Node> = BTreeMap::new();
    for path in paths {
        let Some(value) = resolve(item, path) else { continue };
        let (first, rest) = path.0.split_first().expect("paths are never empty");
        let PathElem::Name(first) = first else { continue };
        let mut slot = root.entry(first.clone()).or_insert_with(|| empty_node(rest.first()));
        for (i, elem) in rest.iter().enumerate() {
            let next = rest.get(i + 1);
            slot = match (elem, slot) {
                (PathElem::Name(n), Node::Map(m)) => m.entry(n.clone()).or_insert_with(|| empty_node(next)),
                (PathElem::Index(x), Node::List(l)) => l.entry(*x).or_insert_with(|| empty_node(next)),
                // Overlapping paths are refused by the parser, so shapes always agree.
                _ => unreachable!("projection paths do not overlap"),
            };
        }
        *slot = Node::Leaf(value.clone());
    }
    root.into_iter().map(|(k, n)| (k.to_string(), n.into_value())).collect()
}

fn empty_node(next: Option<&PathElem>) -> Node {
    match next {
        Some(PathElem::Name(_)) => Node::Map(BTreeMap::new()),
        Some(PathElem::Index(_)) => Node::List(BTreeMap::new()),
        None => Node::Leaf(AttrValue::Null),
    }
}
