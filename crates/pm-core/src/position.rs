//! Ordering keys for cards within a board column (fractional indexing).
//!
//! A card's position is a string; cards sort by it byte-wise. Moving a card between two neighbours
//! gives it a new key strictly between theirs, so a move writes one row and never renumbers the
//! column.
//!
//! A key is an *integer part* followed by an optional *fractional part*, in the digits `0-9A-Za-z`
//! (ASCII order equals digit order). The integer part's first character encodes its length:
//! `a`–`z` mean 2–27 characters (non-negative integers, `a0` being zero), `A`–`Z` mean 27–2
//! characters (negative integers, `Z` closest to zero). Appending to the end of a column increments
//! the integer part, so keys grow logarithmically with the number of cards (62 keys of length 2,
//! 3,844 of length 3, …); only inserting between two adjacent keys uses the fractional part. The
//! fractional part never ends in `0`, so a key strictly between any two distinct keys exists.
//! This is the scheme of David Greenspan's "Implementing fractional indexing".

const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE: usize = DIGITS.len();
/// The longest key accepted; far beyond what real use produces.
const MAX_KEY_LEN: usize = 128;
/// The key of the very first card of an empty column.
const ZERO: &str = "a0";

fn digit_value(b: u8) -> Option<usize> {
    DIGITS.iter().position(|&d| d == b)
}

/// The length of the integer part announced by its head character.
fn integer_len(head: u8) -> Option<usize> {
    match head {
        b'a'..=b'z' => Some(usize::from(head - b'a') + 2),
        b'A'..=b'Z' => Some(usize::from(b'Z' - head) + 2),
        _ => None,
    }
}

/// Splits a key into its integer and fractional parts, checking its form.
fn split(key: &str) -> Option<(&str, &str)> {
    let head = *key.as_bytes().first()?;
    let len = integer_len(head)?;
    if key.len() < len
        || key.len() > MAX_KEY_LEN
        || !key.bytes().skip(1).all(|b| digit_value(b).is_some())
    {
        return None;
    }
    let (integer, fraction) = key.split_at(len);
    if fraction.ends_with('0') {
        return None;
    }
    // The smallest integer ("A" followed by zeros) has no key below it; keep it unused.
    if integer.as_bytes()[0] == b'A' && integer[1..].bytes().all(|b| b == b'0') {
        return None;
    }
    Some((integer, fraction))
}

/// Whether `key` is a well-formed position.
pub fn is_valid_position(key: &str) -> bool {
    split(key).is_some()
}

/// The midpoint of two fractional parts `a < b` (a missing `b` is "one past the end"), with `a`
/// read as if padded with zeros. The result has no trailing zero.
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

fn digits_of(s: &str) -> Vec<usize> {
    s.bytes().filter_map(digit_value).collect()
}

fn text_of(digits: &[usize]) -> String {
    digits.iter().map(|&d| char::from(DIGITS[d])).collect()
}

/// The next integer part, or `None` past the largest one.
fn increment(integer: &str) -> Option<String> {
    let head = integer.as_bytes()[0];
    let mut digits = digits_of(&integer[1..]);
    for d in digits.iter_mut().rev() {
        if *d + 1 < BASE {
            *d += 1;
            return Some(format!("{}{}", char::from(head), text_of(&digits)));
        }
        *d = 0;
    }
    // Carried out of every digit (all are zero now): move to the next head.
    match head {
        b'Z' => Some(ZERO.to_owned()),
        b'z' => None,
        _ => {
            let next = head + 1;
            // Non-negative integers grow longer; negative ones shrink towards zero.
            if next > b'a' {
                digits.push(0);
            } else {
                digits.pop();
            }
            Some(format!("{}{}", char::from(next), text_of(&digits)))
        }
    }
}

/// The previous integer part, or `None` below the smallest one.
fn decrement(integer: &str) -> Option<String> {
    let head = integer.as_bytes()[0];
    let mut digits = digits_of(&integer[1..]);
    for d in digits.iter_mut().rev() {
        if *d > 0 {
            *d -= 1;
            return Some(format!("{}{}", char::from(head), text_of(&digits)));
        }
        *d = BASE - 1;
    }
    // Borrowed out of every digit (all are the top digit now): move to the previous head.
    match head {
        b'a' => Some(format!("Z{}", char::from(DIGITS[BASE - 1]))),
        b'A' => None,
        _ => {
            let prev = head - 1;
            if prev < b'Z' {
                digits.push(BASE - 1);
            } else {
                digits.pop();
            }
            Some(format!("{}{}", char::from(prev), text_of(&digits)))
        }
    }
}

/// A key strictly between `before` and `after` (either may be absent: the start or end of the
/// column). Both given keys must be valid and `before < after`; otherwise `None`.
pub fn position_between(before: Option<&str>, after: Option<&str>) -> Option<String> {
    let a = before.map(split).map_or(Some(None), |s| s.map(Some))?;
    let b = after.map(split).map_or(Some(None), |s| s.map(Some))?;
    let key = match (a, b) {
        (None, None) => ZERO.to_owned(),
        (None, Some((ib, fb))) => {
            if !fb.is_empty() {
                // The integer part alone sorts just below the key with a fraction.
                ib.to_owned()
            } else {
                decrement(ib)?
            }
        }
        (Some((ia, fa)), None) => match increment(ia) {
            Some(i) => i,
            None => format!("{ia}{}", text_of(&midpoint(&digits_of(fa), None))),
        },
        (Some((ia, fa)), Some((ib, fb))) => {
            if before >= after {
                return None;
            }
            if ia == ib {
                format!(
                    "{ia}{}",
                    text_of(&midpoint(&digits_of(fa), Some(&digits_of(fb))))
                )
            } else {
                let i = increment(ia)?;
                if after.is_some_and(|b| i.as_str() < b) {
                    i
                } else {
                    format!("{ia}{}", text_of(&midpoint(&digits_of(fa), None)))
                }
            }
        }
    };
    (key.len() <= MAX_KEY_LEN).then_some(key)
}

/// `n` increasing keys for the initial ordering of a column (used by bulk loading).
pub fn initial_positions(n: usize) -> Vec<String> {
    let mut keys = Vec::with_capacity(n);
    let mut last: Option<String> = None;
    for _ in 0..n {
        let Some(next) = position_between(last.as_deref(), None) else {
            break;
        };
        keys.push(next.clone());
        last = Some(next);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn between(a: Option<&str>, b: Option<&str>) -> String {
        let k = position_between(a, b).unwrap_or_else(|| panic!("no key for {a:?} {b:?}"));
        assert!(is_valid_position(&k), "{k:?} is invalid");
        if let Some(a) = a {
            assert!(a < k.as_str(), "{a} < {k}");
        }
        if let Some(b) = b {
            assert!(k.as_str() < b, "{k} < {b}");
        }
        k
    }

    #[test]
    fn the_first_card_of_an_empty_column_gets_the_zero_key() {
        assert_eq!(between(None, None), "a0");
    }

    #[test]
    fn a_key_between_two_keys_sorts_strictly_between_them() {
        let cases = [
            (Some("a0"), None),
            (None, Some("a0")),
            (Some("a0"), Some("a1")),
            (Some("a0"), Some("a0V")),
            (Some("a0V"), Some("a1")),
            (Some("az"), None),
            (Some("Zz"), Some("a0")),
            (None, Some("a0V")),
            (Some("a1"), Some("b00")),
            (Some("b0z"), Some("b10")),
        ];
        for (a, b) in cases {
            between(a, b);
        }
    }

    #[test]
    fn inverted_or_malformed_bounds_are_refused() {
        assert_eq!(position_between(Some("a1"), Some("a0")), None);
        assert_eq!(position_between(Some("a1"), Some("a1")), None);
        assert_eq!(position_between(Some("a0V0"), None), None, "trailing zero");
        assert_eq!(position_between(Some("V"), None), None, "no integer part");
        assert_eq!(position_between(Some("a-"), None), None);
        assert_eq!(
            position_between(Some("b0"), None),
            None,
            "too short for its head"
        );
    }

    #[test]
    fn appending_ten_thousand_cards_keeps_keys_short_and_increasing() {
        let keys = initial_positions(10_000);
        assert_eq!(keys.len(), 10_000);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(
            keys.iter().all(|k| k.len() <= 4),
            "keys grow logarithmically"
        );
    }

    #[test]
    fn prepending_many_cards_keeps_order_and_keys_short() {
        let mut first = between(None, None);
        for _ in 0..5_000 {
            let k = between(None, Some(&first));
            assert!(k.len() <= 4, "{k}");
            first = k;
        }
    }

    #[test]
    fn repeatedly_inserting_at_the_same_place_keeps_order() {
        // Always insert just after the first card: the worst case for fractional keys.
        let mut keys = initial_positions(2);
        for _ in 0..200 {
            let k = between(Some(&keys[0]), Some(&keys[1]));
            keys.insert(1, k);
        }
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(keys.iter().all(|k| k.len() < 64), "keys grew too long");
    }

    #[test]
    fn integer_parts_roll_over_to_the_next_length_and_back() {
        assert_eq!(increment("az").as_deref(), Some("b00"));
        assert_eq!(decrement("b00").as_deref(), Some("az"));
        assert_eq!(increment("Zz").as_deref(), Some("a0"));
        assert_eq!(decrement("a0").as_deref(), Some("Zz"));
        assert_eq!(decrement("Z0").as_deref(), Some("Yzz"));
        assert_eq!(increment("Yzz").as_deref(), Some("Z0"));
    }
}
