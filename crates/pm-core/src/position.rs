//! Ordering keys for cards within a board column (fractional indexing).
//!
//! A card's position is a string; cards sort by it byte-wise. Moving a card between two neighbours
//! gives it a new key strictly between theirs, so a move writes one row and never renumbers the
//! column. Keys use the digits `0-9A-Za-z` (ASCII order equals digit order) and never end in `0`,
//! which guarantees that a key strictly between any two distinct keys always exists.

const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE: usize = DIGITS.len();

fn digit_value(b: u8) -> Option<usize> {
    DIGITS.iter().position(|&d| d == b)
}

/// Whether `key` is a well-formed position: non-empty, only base-62 digits, not ending in `0`.
pub fn is_valid_position(key: &str) -> bool {
    !key.is_empty()
        && key.bytes().all(|b| digit_value(b).is_some())
        && !key.ends_with('0')
        && key.len() <= 128
}

/// A key strictly between `before` and `after` (either may be absent: the start or end of the
/// column). Both given keys must be valid and `before < after`; otherwise `None`.
pub fn position_between(before: Option<&str>, after: Option<&str>) -> Option<String> {
    if before.is_some_and(|a| !is_valid_position(a)) || after.is_some_and(|b| !is_valid_position(b))
    {
        return None;
    }
    if let (Some(a), Some(b)) = (before, after)
        && a >= b
    {
        return None;
    }
    let a: Vec<usize> = before
        .unwrap_or("")
        .bytes()
        .filter_map(digit_value)
        .collect();
    let b: Option<Vec<usize>> = after.map(|b| b.bytes().filter_map(digit_value).collect());
    let digits = midpoint(&a, b.as_deref());
    Some(digits.into_iter().map(|d| char::from(DIGITS[d])).collect())
}

/// The midpoint of two digit strings, `a < b` (a missing `b` is "one past the end"), with `a`
/// read as if padded with zeros. The result has no trailing zero. This is the classic fractional
/// indexing midpoint: share the common prefix, then split the first differing digit.
fn midpoint(a: &[usize], b: Option<&[usize]>) -> Vec<usize> {
    if let Some(b) = b {
        let mut n = 0;
        while n < b.len() && a.get(n).copied().unwrap_or(0) == b[n] {
            n += 1;
        }
        if n > 0 {
            let mut out = b[..n].to_vec();
            out.extend(midpoint(a.get(n..).unwrap_or(&[]), Some(&b[n..])));
            return out;
        }
    }
    let digit_a = a.first().copied().unwrap_or(0);
    let digit_b = b.map_or(BASE, |b| b.first().copied().unwrap_or(BASE));
    if digit_b - digit_a > 1 {
        return vec![(digit_a + digit_b).div_ceil(2)];
    }
    match b {
        // `b` has more digits: its first digit alone is above `a` and below `b`.
        Some(b) if b.len() > 1 => vec![b[0]],
        _ => {
            let mut out = vec![digit_a];
            out.extend(midpoint(a.get(1..).unwrap_or(&[]), None));
            out
        }
    }
}

/// `n` evenly spread keys for the initial ordering of a column (used by bulk loading).
pub fn initial_positions(n: usize) -> Vec<String> {
    let mut keys = Vec::with_capacity(n);
    let mut last: Option<String> = None;
    for _ in 0..n {
        let next = position_between(last.as_deref(), None).unwrap_or_default();
        keys.push(next.clone());
        last = Some(next);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_between_two_keys_sorts_strictly_between_them() {
        let cases = [
            (None, None),
            (Some("V"), None),
            (None, Some("V")),
            (Some("V"), Some("W")),
            (Some("V"), Some("V1")),
            (Some("Vz"), Some("W")),
            (Some("zzz"), None),
            (None, Some("01")),
            (Some("1"), Some("2")),
        ];
        for (a, b) in cases {
            let k = position_between(a, b).unwrap_or_else(|| panic!("no key for {a:?} {b:?}"));
            assert!(is_valid_position(&k), "{k:?} invalid for {a:?} {b:?}");
            if let Some(a) = a {
                assert!(a < k.as_str(), "{a} < {k}");
            }
            if let Some(b) = b {
                assert!(k.as_str() < b, "{k} < {b}");
            }
        }
    }

    #[test]
    fn inverted_or_malformed_bounds_are_refused() {
        assert_eq!(position_between(Some("W"), Some("V")), None);
        assert_eq!(position_between(Some("W"), Some("W")), None);
        assert_eq!(position_between(Some("V0"), None), None);
        assert_eq!(position_between(Some("V-"), None), None);
    }

    #[test]
    fn repeatedly_inserting_at_the_same_place_keeps_order_and_keys_short() {
        // Always insert just after the first card: the classic worst case for fractional keys.
        let mut keys = initial_positions(2);
        for _ in 0..200 {
            let k = position_between(Some(&keys[0]), Some(&keys[1])).unwrap();
            keys.insert(1, k);
        }
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(keys.iter().all(|k| k.len() < 64), "keys grew too long");
    }

    #[test]
    fn initial_positions_are_increasing() {
        let keys = initial_positions(500);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }
}
