//! Parsed expressions. Names and values are already resolved through
//! ExpressionAttributeNames/Values, so evaluation needs only the item.

use std::fmt;

use crate::value::AttrValue;

#[derive(Debug, Clone, PartialEq)]
pub enum PathElem {
    Name(Box<str>),
    Index(usize),
}

/// A document path: `a.b[2].c`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path(pub Vec<PathElem>);

impl Path {
    pub fn top(&self) -> &str {
        match &self.0[0] {
            PathElem::Name(n) => n,
            PathElem::Index(_) => unreachable!("a path starts with a name"),
        }
    }

    /// Whether one path is a prefix of the other (DynamoDB's "overlap").
    pub fn overlaps(&self, other: &Path) -> bool {
        self.0.iter().zip(&other.0).all(|(a, b)| a == b)
    }
}

/// DynamoDB's rendering in overlap errors: `[a, b, [2]]`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| match e {
                PathElem::Name(n) => n.to_string(),
                PathElem::Index(i) => format!("[{i}]"),
            })
            .collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(AttrValue),
    Size(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Operand, Cmp, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    Exists(Path),
    NotExists(Path),
    Type(Path, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

/// The right-hand side of a SET action.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    Operand(UpdateOperand),
    Plus(UpdateOperand, UpdateOperand),
    Minus(UpdateOperand, UpdateOperand),
}

#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOperand {
    Path(Path),
    Value(AttrValue),
    IfNotExists(Path, Box<UpdateOperand>),
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(Path, SetValue)>,
    pub remove: Vec<Path>,
    pub add: Vec<(Path, AttrValue)>,
    pub delete: Vec<(Path, AttrValue)>,
}
