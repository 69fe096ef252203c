//! Parsers for cell and filter text by column type: LONG, DOUBLE, DECIMAL, DATE, DATETIME.

use rust_decimal::Decimal;

/// Parses a LONG: an optional sign and decimal digits, fitting in an `i64`.
pub(crate) fn parse_long(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively so that i64::MIN parses.
    let mut value: i64 = 0;
    for &b in digits {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value.checked_mul(10)?.checked_sub(i64::from(digit))?;
    }
    if negative { Some(value) } else { value.checked_neg() }
}

/// Parses a DOUBLE: Rust's float syntax (`1.5`, `-2`, `.5`, `1e3`), finite values only.
pub(crate) fn parse_double(text: &[u8]) -> Option<f64> {
    if let Some(value) = parse_short_double(text) {
        return Some(value);
    }
    // Rust also accepts `inf`, `NaN` and `infinity`; only digits, signs, dots and exponents pass here.
    if text.is_empty() || !text.iter().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E')) {
        return None;
    }
    let value: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    value.is_finite().then_some(value)
}

/// The common case, `[sign]digits[.digits]` with at most 15 digits, without the general
/// parser: the digits as an integer and the power of ten are both exact doubles, so one
/// division gives the correctly rounded value (Clinger's fast path).
fn parse_short_double(text: &[u8]) -> Option<f64> {
    const POWERS: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (negative, body) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut decimals: Option<usize> = None;
    for &b in body {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
                if digits > 15 {
                    return None;
                }
                if let Some(decimals) = decimals.as_mut() {
                    *decimals += 1;
                }
            }
            b'.' if decimals.is_none() => decimals = Some(0),
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    let value = mantissa as f64 / POWERS.get(decimals.unwrap_or(0))?;
    Some(if negative { -value } else { value })
}

/// Parses a DECIMAL exactly: an optional sign, digits, optionally a dot and more digits
/// (at most 28 after the dot, at most 96 bits of mantissa).
pub(crate) fn parse_decimal(text: &[u8]) -> Option<Decimal> {
    let (negative, body) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let mut mantissa: i128 = 0;
    let mut digits = 0usize;
    let mut scale: Option<u32> = None;
    for &b in body {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
                digits += 1;
                if let Some(scale) = scale.as_mut() {
                    *scale += 1;
                }
            }
            b'.' if scale.is_none() => scale = Some(0),
            _ => return None,
        }
        if mantissa >= 1 << 96 {
            return None;
        }
    }
    let scale = scale.unwrap_or(0);
    if digits == 0 || scale > 28 {
        return None;
    }
    Decimal::try_from_i128_with_scale(if negative { -mantissa } else { mantissa }, scale).ok()
}

fn digits<const N: usize>(text: &[u8], at: usize) -> Option<u32> {
    let slice = text.get(at..at + N)?;
    let mut value = 0u32;
    for &b in slice {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn parse_ymd(text: &[u8]) -> Option<i64> {
    let year = i64::from(digits::<4>(text, 0)?);
    let month = digits::<2>(text, 5)?;
    let day = digits::<2>(text, 8)?;
    if text.get(4) != Some(&b'-') || text.get(7) != Some(&b'-') {
        return None;
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Parses a DATE, `YYYY-MM-DD`, into days since 1970-01-01.
pub(crate) fn parse_date(text: &[u8]) -> Option<i32> {
    if text.len() != 10 {
        return None;
    }
    i32::try_from(parse_ymd(text)?).ok()
}

/// Parses a DATETIME, `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH:MM]` (no zone = UTC),
/// into nanoseconds since 1970-01-01T00:00:00Z.
pub(crate) fn parse_datetime(text: &[u8]) -> Option<i128> {
    let days = parse_ymd(text)?;
    if !matches!(text.get(10), Some(b'T' | b' ')) || text.get(13) != Some(&b':') || text.get(16) != Some(&b':') {
        return None;
    }
    let hour = digits::<2>(text, 11)?;
    let minute = digits::<2>(text, 14)?;
    let second = digits::<2>(text, 17)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut nanos: i128 = 0;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let len = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || len > 9 {
            return None;
        }
        for &b in fraction.get(..len)? {
            nanos = nanos * 10 + i128::from(b - b'0');
        }
        for _ in len..9 {
            nanos *= 10;
        }
        rest = fraction.get(len..)?;
    }
    let offset_seconds: i64 = match rest {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), ..] if rest.len() == 6 && rest.get(3) == Some(&b':') => {
            let oh = digits::<2>(rest, 1)?;
            let om = digits::<2>(rest, 4)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let magnitude = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_day_counts() {
        for days in [-719_528_i64, -1, 0, 1, 365, 10_957, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(parse_date(b"1970-01-02"), Some(1));
        assert_eq!(parse_date(b"2024-02-29"), Some(19_782));
        assert_eq!(parse_date(b"2023-02-29"), None);
    }

    #[test]
    fn datetimes_honour_offsets_and_fractions() {
        let utc = parse_datetime(b"2024-01-05T10:00:00Z").unwrap();
        assert_eq!(parse_datetime(b"2024-01-05 10:00:00"), Some(utc));
        assert_eq!(parse_datetime(b"2024-01-05T12:00:00+02:00"), Some(utc));
        assert_eq!(parse_datetime(b"2024-01-05T10:00:00.5Z"), Some(utc + 500_000_000));
        assert_eq!(parse_datetime(b"2024-01-05T10:00:00.Z"), None);
        assert_eq!(parse_datetime(b"2024-01-05"), None);
    }

    #[test]
    fn numbers_reject_what_domo_would_not_store() {
        assert_eq!(parse_long(b"+7"), Some(7));
        assert_eq!(parse_long(b" 7"), None);
        assert_eq!(parse_double(b"NaN"), None);
        assert_eq!(parse_double(b"inf"), None);
        assert_eq!(parse_double(b"1e3"), Some(1000.0));
        // The short path agrees with the general parser.
        for text in
            ["0.1", "-0.0", "0.15", "123456789012345", "1.23456789012345", ".5", "5.", "+0.3", "9007199.254740993"]
        {
            let expected: f64 = text.parse().unwrap();
            let got = parse_double(text.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), expected.to_bits(), "{text}");
        }
        assert_eq!(parse_double(b"."), None);
        assert_eq!(parse_double(b"-"), None);
        assert_eq!(parse_decimal(b"1.50"), parse_decimal(b"1.5"));
        assert_eq!(parse_decimal(b"1e3"), None);
        assert_eq!(parse_decimal(b"1_000"), None);
    }

    proptest::proptest! {
        #[test]
        fn short_doubles_match_the_general_parser(negative: bool, whole in 0u64..10_000_000, fraction in 0u64..100_000_000, width in 0usize..9) {
            let text = format!("{}{whole}.{fraction:0width$}", if negative { "-" } else { "" });
            let expected: f64 = text.parse().unwrap();
            proptest::prop_assert_eq!(parse_double(text.as_bytes()).map(f64::to_bits), Some(expected.to_bits()), "{}", text);
        }
    }
}
