//! A compact binary form for stored items: a tag byte per value and varint lengths, so a
//! ~200-byte item costs ~200 bytes in memory (one allocation) instead of a tree of boxes.
//! Items are decoded on read; that costs microseconds and keeps a million items small.

use crate::number::Number;
use crate::value::{AttrValue, Item, Map};

/// An encoded item.
#[derive(Clone, PartialEq)]
pub struct Packed(Box<[u8]>);

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.unpack())
    }
}

impl Packed {
    pub fn pack(item: &Item) -> Packed {
        let mut out = Vec::with_capacity(64);
        write_map(&mut out, item);
        Packed(out.into_boxed_slice())
    }

    pub fn unpack(&self) -> Item {
        let mut r = Reader { buf: &self.0, pos: 0 };
        r.map()
    }

    pub fn heap_bytes(&self) -> usize {
        self.0.len()
    }
}

fn write_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_len(out, b.len());
    out.extend_from_slice(b);
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    write_bytes(out, n.to_string().as_bytes());
}

fn write_map(out: &mut Vec<u8>, map: &Map) {
    write_len(out, map.len());
    for (k, v) in map.iter() {
        write_bytes(out, k.as_bytes());
        write_value(out, v);
    }
}

fn write_value(out: &mut Vec<u8>, v: &AttrValue) {
    match v {
        AttrValue::S(s) => {
            out.push(0);
            write_bytes(out, s.as_bytes());
        }
        AttrValue::N(n) => {
            out.push(1);
            write_number(out, n);
        }
        AttrValue::B(b) => {
            out.push(2);
            write_bytes(out, b);
        }
        AttrValue::Ss(set) => {
            out.push(3);
            write_len(out, set.len());
            set.iter().for_each(|s| write_bytes(out, s.as_bytes()));
        }
        AttrValue::Ns(set) => {
            out.push(4);
            write_len(out, set.len());
            set.iter().for_each(|n| write_number(out, n));
        }
        AttrValue::Bs(set) => {
            out.push(5);
            write_len(out, set.len());
            set.iter().for_each(|b| write_bytes(out, b));
        }
        AttrValue::M(m) => {
            out.push(6);
            write_map(out, m);
        }
        AttrValue::L(l) => {
            out.push(7);
            write_len(out, l.len());
            l.iter().for_each(|v| write_value(out, v));
        }
        AttrValue::Null => out.push(8),
        AttrValue::Bool(b) => out.push(if *b { 10 } else { 9 }),
    }
}

/// Reads what this module wrote; the buffer is never foreign, so malformed input is a bug.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.buf[self.pos];
        self.pos += 1;
        b
    }

    fn len(&mut self) -> usize {
        let mut n = 0usize;
        let mut shift = 0;
        loop {
            let b = self.byte();
            n |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                return n;
            }
            shift += 7;
        }
    }

    fn bytes(&mut self) -> &[u8] {
        let n = self.len();
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        b
    }

    fn str(&mut self) -> Box<str> {
        std::str::from_utf8(self.bytes()).expect("packed strings are UTF-8").into()
    }

    fn number(&mut self) -> Number {
        Number::parse(std::str::from_utf8(self.bytes()).expect("packed numbers are ASCII"))
            .expect("packed numbers are valid")
    }

    fn map(&mut self) -> Map {
        let n = self.len();
        let mut map = Map::new();
        for _ in 0..n {
            let k = self.str();
            let v = self.value();
            map.insert(&k, v);
        }
        map
    }

    fn value(&mut self) -> AttrValue {
        match self.byte() {
            0 => AttrValue::S(self.str()),
            1 => AttrValue::N(self.number()),
            2 => AttrValue::B(self.bytes().into()),
            3 => {
                let n = self.len();
                AttrValue::Ss((0..n).map(|_| self.str()).collect())
            }
            4 => {
                let n = self.len();
                AttrValue::Ns((0..n).map(|_| self.number()).collect())
            }
            5 => {
                let n = self.len();
                AttrValue::Bs((0..n).map(|_| self.bytes().into()).collect())
            }
            6 => AttrValue::M(self.map()),
            7 => {
                let n = self.len();
                AttrValue::L((0..n).map(|_| self.value()).collect())
            }
            8 => AttrValue::Null,
            9 => AttrValue::Bool(false),
            10 => AttrValue::Bool(true),
            tag => unreachable!("unknown packed tag {tag}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::item_from_json;
    use serde_json::json;

    #[test]
    fn packs_and_unpacks_every_type() {
        let item = item_from_json(&json!({
            "s": {"S": "héllo"}, "n": {"N": "-1.5E-7"}, "b": {"B": "AAEC"}, "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AA=="]}, "m": {"M": {"x": {"L": [{"NULL": true}, {"BOOL": true}, {"BOOL": false}]}}},
            "long": {"S": "x".repeat(300)}
        }))
        .unwrap();
        let packed = Packed::pack(&item);
        assert_eq!(packed.unpack(), item);
        assert!(packed.heap_bytes() < 420);
    }
}
