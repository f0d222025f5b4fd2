//! DynamoDB's number type: a decimal with at most 38 significant digits and a magnitude between
//! 1E-130 and 9.9999999999999999999999999999999999999E+125, never a float.
//!
//! A small own type rather than `bigdecimal`: 38 decimal digits fit exactly in a `u128`, so a
//! number is 24 bytes with no heap allocation (a million items carry many of them), comparison
//! is integer arithmetic, and DynamoDB's own limits and error texts are enforced where numbers
//! are made. Only `+` and `-` of update expressions need wider intermediates; they use digit
//! vectors, which is simple and plenty fast for one operation per update.

use std::cmp::Ordering;
use std::fmt;

/// The largest number of significant digits DynamoDB stores.
pub const MAX_DIGITS: u32 = 38;
/// Largest and smallest allowed adjusted exponent (the exponent of the leading digit).
const MAX_EXPONENT: i32 = 125;
const MIN_EXPONENT: i32 = -130;

/// `(-1)^negative * coefficient * 10^exponent`, normalized: no trailing zeros in the
/// coefficient, and zero is `+0 * 10^0`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    lo: u64,
    hi: u64,
    exponent: i32,
    negative: bool,
}

/// Why a number was refused, with DynamoDB's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    NotNumeric(String),
    TooPrecise,
    Overflow,
    Underflow,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberError::NotNumeric(s) => write!(f, "The parameter cannot be converted to a numeric value: {s}"),
            NumberError::TooPrecise => f.write_str("Attempting to store more than 38 significant digits in a Number"),
            NumberError::Overflow => {
                f.write_str("Number overflow. Attempting to store a number with magnitude larger than supported range")
            }
            NumberError::Underflow => f.write_str(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            ),
        }
    }
}

impl Number {
    pub const ZERO: Number = Number { lo: 0, hi: 0, exponent: 0, negative: false };

    fn coefficient(&self) -> u128 {
        ((self.hi as u128) << 64) | self.lo as u128
    }

    pub fn is_zero(&self) -> bool {
        self.lo == 0 && self.hi == 0
    }

    /// Parses DynamoDB's number syntax (`-12.5`, `+3`, `1e3`, `.5`, `007`).
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        let not_numeric = || NumberError::NotNumeric(text.to_string());
        let bytes = text.as_bytes();
        let mut i = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let mut digits = Vec::new();
        let mut fraction_digits: i64 = 0;
        let mut seen_point = false;
        let mut seen_digit = false;
        while i < bytes.len() {
            match bytes[i] {
                b @ b'0'..=b'9' => {
                    seen_digit = true;
                    digits.push(b - b'0');
                    if seen_point {
                        fraction_digits += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                b'e' | b'E' => break,
                _ => return Err(not_numeric()),
            }
            i += 1;
        }
        if !seen_digit {
            return Err(not_numeric());
        }
        let mut exponent: i64 = 0;
        if i < bytes.len() {
            // An exponent: [eE][+-]?digits
            let rest = &text[i + 1..];
            let body = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                return Err(not_numeric());
            }
            // Huge exponents saturate; the range check below refuses them.
            let magnitude: i64 = body.parse::<i64>().unwrap_or(i64::MAX / 4).min(i64::MAX / 4);
            exponent = if rest.starts_with('-') { -magnitude } else { magnitude };
        }
        Self::from_digits(negative, digits, exponent - fraction_digits)
    }

    /// Builds a number from decimal digits (most significant first) and the exponent of the last.
    fn from_digits(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Result<Number, NumberError> {
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            return Ok(Number::ZERO);
        }
        if digits.len() > MAX_DIGITS as usize {
            return Err(NumberError::TooPrecise);
        }
        let adjusted = exponent + digits.len() as i64 - 1;
        if adjusted > MAX_EXPONENT as i64 {
            return Err(NumberError::Overflow);
        }
        if adjusted < MIN_EXPONENT as i64 {
            return Err(NumberError::Underflow);
        }
        let coefficient = digits.iter().fold(0u128, |acc, d| acc * 10 + *d as u128);
        Ok(Number { lo: coefficient as u64, hi: (coefficient >> 64) as u64, exponent: exponent as i32, negative })
    }

    fn digits(&self) -> Vec<u8> {
        self.coefficient().to_string().bytes().map(|b| b - b'0').collect()
    }

    pub fn negate(&self) -> Number {
        if self.is_zero() {
            return *self;
        }
        Number { negative: !self.negative, ..*self }
    }

    /// `self + other`, rounded half-even to 38 significant digits, range-checked.
    pub fn add(&self, other: &Number) -> Result<Number, NumberError> {
        if other.is_zero() {
            return Ok(*self);
        }
        if self.is_zero() {
            return Ok(*other);
        }
        let low = self.exponent.min(other.exponent) as i64;
        // Digits of each operand aligned on exponent `low`, least significant first.
        let aligned = |n: &Number| {
            let mut d: Vec<u8> = vec![0; (n.exponent as i64 - low) as usize];
            d.extend(n.digits().iter().rev());
            d
        };
        let (a, b) = (aligned(self), aligned(other));
        let (negative, mut sum) = if self.negative == other.negative {
            (self.negative, add_digits(&a, &b))
        } else {
            match compare_magnitude(&a, &b) {
                Ordering::Equal => return Ok(Number::ZERO),
                Ordering::Greater => (self.negative, sub_digits(&a, &b)),
                Ordering::Less => (other.negative, sub_digits(&b, &a)),
            }
        };
        while sum.last() == Some(&0) {
            sum.pop();
        }
        sum.reverse();
        let (digits, exponent) = round_half_even(sum, low);
        Self::from_digits(negative, digits, exponent)
    }

    pub fn sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.add(&other.negate())
    }

    /// Decimal exponent of the leading digit (zero has none; 0 is used).
    fn adjusted_exponent(&self) -> i32 {
        self.exponent + self.coefficient().ilog10() as i32
    }

    fn cmp_magnitude(&self, other: &Number) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        self.adjusted_exponent().cmp(&other.adjusted_exponent()).then_with(|| {
            // Same leading exponent: scale both coefficients to the same digit count.
            let (a, b) = (self.coefficient(), other.coefficient());
            let (da, db) = (a.ilog10(), b.ilog10());
            let (a, b) = if da < db { (a * 10u128.pow(db - da), b) } else { (a, b * 10u128.pow(da - db)) };
            a.cmp(&b)
        })
    }

    /// Significant digits, as DynamoDB counts them for item sizes.
    pub fn significant_digits(&self) -> u32 {
        if self.is_zero() {
            1
        } else {
            self.coefficient().ilog10() + 1
        }
    }

    /// Integer value, if this number is an integer that fits (list indexes, TTL epochs).
    pub fn to_i64(&self) -> Option<i64> {
        if self.exponent < 0 {
            return None;
        }
        let scaled = self.coefficient().checked_mul(10u128.checked_pow(self.exponent as u32)?)?;
        let value = i64::try_from(scaled).ok()?;
        Some(if self.negative { -value } else { value })
    }

    pub fn from_i64(value: i64) -> Number {
        Number::parse(&value.to_string()).expect("an i64 is a valid number")
    }
}

fn add_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0;
    for i in 0..a.len().max(b.len()) {
        let s = a.get(i).copied().unwrap_or(0) + b.get(i).copied().unwrap_or(0) + carry;
        out.push(s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out
}

/// `a - b` for `a >= b`, least significant digit first.
fn sub_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i8;
    for (i, &ai) in a.iter().enumerate() {
        let mut d = ai as i8 - b.get(i).copied().unwrap_or(0) as i8 - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out.push(d as u8);
    }
    out
}

fn compare_magnitude(a: &[u8], b: &[u8]) -> Ordering {
    let trim = |d: &[u8]| d.len() - d.iter().rev().take_while(|x| **x == 0).count();
    let (la, lb) = (trim(a), trim(b));
    la.cmp(&lb).then_with(|| a[..la].iter().rev().cmp(b[..lb].iter().rev()))
}

/// Rounds most-significant-first digits to 38, returning the digits and the new last exponent.
fn round_half_even(mut digits: Vec<u8>, exponent: i64) -> (Vec<u8>, i64) {
    let keep = MAX_DIGITS as usize;
    if digits.len() <= keep {
        return (digits, exponent);
    }
    let dropped = digits.len() - keep;
    let first_dropped = digits[keep];
    let rest_nonzero = digits[keep + 1..].iter().any(|d| *d != 0);
    digits.truncate(keep);
    let round_up = first_dropped > 5 || (first_dropped == 5 && (rest_nonzero || digits[keep - 1] % 2 == 1));
    if round_up {
        let mut i = keep;
        loop {
            if i == 0 {
                digits.insert(0, 1);
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    (digits, exponent + dropped as i64)
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// DynamoDB answers numbers in plain notation without trailing zeros (`1E3` reads back `1000`).
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        if self.negative {
            f.write_str("-")?;
        }
        let digits = self.coefficient().to_string();
        if self.exponent >= 0 {
            f.write_str(&digits)?;
            for _ in 0..self.exponent {
                f.write_str("0")?;
            }
            return Ok(());
        }
        let fraction = (-self.exponent) as usize;
        if digits.len() > fraction {
            let (int, frac) = digits.split_at(digits.len() - fraction);
            write!(f, "{int}.{frac}")
        } else {
            f.write_str("0.")?;
            for _ in 0..fraction - digits.len() {
                f.write_str("0")?;
            }
            f.write_str(&digits)
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "N({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_canonically() {
        for (input, canonical) in [
            ("0", "0"),
            ("-0", "0"),
            ("0.000", "0"),
            ("007", "7"),
            ("+3", "3"),
            ("1.50", "1.5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1e3", "1000"),
            ("1E-3", "0.001"),
            ("-12.340e1", "-123.4"),
            ("123456789012345678901234567890.12345678", "123456789012345678901234567890.12345678"),
            ("1E-130", &format!("0.{}1", "0".repeat(129))),
            ("9.9999999999999999999999999999999999999E+125", &format!("{}{}", "9".repeat(38), "0".repeat(88))),
            ("1000000000000000000000000000000000000000000", "1000000000000000000000000000000000000000000"),
        ] {
            assert_eq!(n(input).to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn refuses_what_dynamodb_refuses() {
        let err = |s: &str| Number::parse(s).unwrap_err().to_string();
        for bad in ["", "abc", "1..2", "1e", "1e+", "e5", ".", "-", "1 ", " 1", "NaN", "Infinity", "0x10", "1,5"] {
            assert_eq!(err(bad), format!("The parameter cannot be converted to a numeric value: {bad}"), "{bad:?}");
        }
        assert_eq!(
            err("1E126"),
            "Number overflow. Attempting to store a number with magnitude larger than supported range"
        );
        assert_eq!(
            err("-1E126"),
            "Number overflow. Attempting to store a number with magnitude larger than supported range"
        );
        assert_eq!(
            err("1E-131"),
            "Number underflow. Attempting to store a number with magnitude smaller than supported range"
        );
        assert_eq!(err("1E99999999999999999999"), err("1E126"));
        assert_eq!(
            err("123456789012345678901234567890123456789"),
            "Attempting to store more than 38 significant digits in a Number"
        );
        assert!(Number::parse("12345678901234567890123456789012345678").is_ok());
        assert!(Number::parse("0.00000000000000000000000000000000000000000000001").is_ok());
    }

    #[test]
    fn orders_by_value() {
        let sorted = ["-1E125", "-10", "-9.5", "-0.001", "0", "1E-130", "0.5", "1", "1.0001", "9", "10", "1E125"];
        for w in sorted.windows(2) {
            assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(n("1.0").cmp(&n("1")), Ordering::Equal);
        assert_eq!(n("1.0"), n("1"));
    }

    #[test]
    fn adds_and_subtracts_exactly_then_rounds_to_38_digits() {
        let sum = |a: &str, b: &str| n(a).add(&n(b)).map(|x| x.to_string());
        assert_eq!(sum("0.1", "0.2").unwrap(), "0.3");
        assert_eq!(sum("1", "-1").unwrap(), "0");
        assert_eq!(sum("-5", "3").unwrap(), "-2");
        assert_eq!(sum("3", "-5").unwrap(), "-2");
        assert_eq!(sum("99.99", "0.01").unwrap(), "100");
        assert_eq!(sum("1E20", "1E-20").unwrap(), "100000000000000000000");
        assert_eq!(n("10").sub(&n("0.5")).unwrap().to_string(), "9.5");
        // 38 nines + 1 carries into a 39th digit, which rounds back to 38.
        let nines = "9".repeat(38);
        assert_eq!(sum(&nines, "1").unwrap(), format!("1{}", "0".repeat(38)));
        // Half-even rounding of the 39th digit.
        assert_eq!(sum(&format!("1{}", "0".repeat(37)), "0.5").unwrap(), format!("1{}", "0".repeat(37)));
        assert_eq!(sum(&format!("1{}1", "0".repeat(36)), "0.5").unwrap(), format!("1{}2", "0".repeat(36)));
        assert_eq!(sum("9.9999999999999999999999999999999999999E+125", "1E+125").unwrap_err(), NumberError::Overflow);
    }

    #[test]
    fn integer_conversion() {
        assert_eq!(n("42").to_i64(), Some(42));
        assert_eq!(n("-4E2").to_i64(), Some(-400));
        assert_eq!(n("1.5").to_i64(), None);
        assert_eq!(n("1E30").to_i64(), None);
        assert_eq!(Number::from_i64(-7).to_string(), "-7");
    }
}
