//! Fast paths for the common shapes of DATE, DATETIME and DECIMAL cells; every other shape goes to `crate::parse`.
//!
//! Each function answers `None` for any text it does not handle, never a wrong value:
//! the caller then asks the general parser, which has the final word.

use rust_decimal::Decimal;

use crate::parse;

/// The first year of [`YEAR_STARTS`].
const FIRST_YEAR: usize = 1900;
/// How many years [`YEAR_STARTS`] covers (1900 to 2199).
const YEARS: usize = 300;

const fn is_leap(year: usize) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days from 1970-01-01 to January 1st of each year from [`FIRST_YEAR`].
const YEAR_STARTS: [i32; YEARS] = {
    let mut starts = [0i32; YEARS];
    // 1900-01-01 is 25,567 days before 1970-01-01.
    let mut days = -25_567i32;
    let mut i = 0;
    while i < YEARS {
        #[expect(clippy::indexing_slicing, reason = "evaluated at compile time, where `i < YEARS` bounds it")]
        {
            starts[i] = days;
        }
        days += if is_leap(FIRST_YEAR + i) { 366 } else { 365 };
        i += 1;
    }
    starts
};

/// Days before the first of each month (index 1 to 12), in a common and a leap year.
const MONTH_STARTS: [[u16; 13]; 2] = [
    [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334],
    [0, 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335],
];

/// The value of the ASCII digits `text[at..at + N]`, or `None` if one is not a digit.
#[inline]
fn digits<const N: usize>(text: &[u8], at: usize) -> Option<u32> {
    let mut value = 0u32;
    for &b in text.get(at..at + N)? {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u32::from(digit);
    }
    Some(value)
}

/// `YYYY-MM-DD` at the start of `text`, years 1900 to 2199, as days since 1970-01-01.
#[inline]
fn ymd(text: &[u8]) -> Option<i32> {
    if text.get(4) != Some(&b'-') || text.get(7) != Some(&b'-') {
        return None;
    }
    let year = (digits::<4>(text, 0)? as usize).checked_sub(FIRST_YEAR)?;
    let (month, day) = (digits::<2>(text, 5)? as usize, digits::<2>(text, 8)?);
    let leap = usize::from(is_leap(FIRST_YEAR + year));
    let starts = MONTH_STARTS.get(leap)?;
    let (&start, &next) = (starts.get(month)?, starts.get(month + 1).unwrap_or(&(365 + leap as u16)));
    if month == 0 || day == 0 || day > u32::from(next - start) {
        return None;
    }
    Some(YEAR_STARTS.get(year)? + i32::from(start) + day as i32 - 1)
}

/// A DATE cell: days since 1970-01-01, as [`parse::parse_date`] gives them.
#[inline]
pub(super) fn date(text: &[u8]) -> Option<i32> {
    if text.len() == 10
        && let Some(days) = ymd(text)
    {
        return Some(days);
    }
    parse::parse_date(text)
}

/// A DATETIME cell: nanoseconds since the epoch, as [`parse::parse_datetime`] gives them.
#[inline]
pub(super) fn datetime(text: &[u8]) -> Option<i128> {
    // `YYYY-MM-DD HH:MM:SS` (or `T`), UTC by default or with `Z`: no fraction, no offset.
    if (text.len() == 19 || (text.len() == 20 && text.last() == Some(&b'Z')))
        && matches!(text.get(10), Some(b'T' | b' '))
        && text.get(13) == Some(&b':')
        && text.get(16) == Some(&b':')
        && let Some(days) = ymd(text)
        && let (Some(hour @ 0..=23), Some(minute @ 0..=59), Some(second @ 0..=59)) =
            (digits::<2>(text, 11), digits::<2>(text, 14), digits::<2>(text, 17))
    {
        let seconds = i64::from(days) * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        return Some(i128::from(seconds) * 1_000_000_000);
    }
    parse::parse_datetime(text)
}

/// A DECIMAL cell as its mantissa and scale (`-1.50` is `(-150, 2)`), exactly as
/// [`parse::parse_decimal`] reads it; `Err(())` for text that is not a DECIMAL, and
/// `Ok(None)` for a valid one whose mantissa does not fit an `i64`.
#[inline]
pub(super) fn decimal(text: &[u8]) -> Result<Option<(i64, u8)>, ()> {
    if let Some(pair) = short_decimal(text) {
        return Ok(Some(pair));
    }
    let value = parse::parse_decimal(text).ok_or(())?;
    let scale = u8::try_from(value.scale()).map_err(|_| ())?;
    Ok(i64::try_from(value.mantissa()).ok().map(|mantissa| (mantissa, scale)))
}

/// `[sign]digits[.digits]` with at most 18 digits (so no overflow is possible).
#[inline]
fn short_decimal(text: &[u8]) -> Option<(i64, u8)> {
    let (negative, body) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if body.len() > 19 {
        return None;
    }
    let mut mantissa = 0i64;
    let mut digits = 0u8;
    let mut dot: Option<u8> = None;
    for &b in body {
        let digit = b.wrapping_sub(b'0');
        if digit <= 9 {
            if digits == 18 {
                return None;
            }
            mantissa = mantissa * 10 + i64::from(digit);
            digits += 1;
        } else if b == b'.' && dot.is_none() {
            dot = Some(digits);
        } else {
            return None;
        }
    }
    if digits == 0 {
        return None;
    }
    let scale = dot.map_or(0, |at| digits - at);
    Some((if negative { -mantissa } else { mantissa }, scale))
}

/// The exact decimal of a mantissa and scale from [`decimal`] (the scale is at most 28).
pub(super) fn exact(mantissa: i64, scale: u8) -> Option<Decimal> {
    Decimal::try_new(mantissa, u32::from(scale)).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn general_decimal(text: &[u8]) -> Result<Option<(i64, u8)>, ()> {
        let value = parse::parse_decimal(text).ok_or(())?;
        Ok(i64::try_from(value.mantissa()).ok().map(|m| (m, value.scale() as u8)))
    }

    #[test]
    fn edge_dates_agree_with_the_general_parser() {
        for text in [
            "1900-01-01",
            "1899-12-31",
            "1900-02-29",
            "2000-02-29",
            "2100-02-29",
            "2199-12-31",
            "2200-01-01",
            "2024-00-10",
            "2024-13-01",
            "2024-04-31",
            "2024-04-00",
            "1970-01-01",
            "2024-1-011",
            "+024-01-01",
        ] {
            assert_eq!(date(text.as_bytes()), parse::parse_date(text.as_bytes()), "{text}");
        }
        for text in [
            "2024-01-05T10:00:00Z",
            "2024-01-05 10:00:00",
            "2024-01-05 24:00:00",
            "2024-01-05 10:60:00",
            "2024-01-05 10:00:60",
            "2024-01-05 10:00:00.5",
            "2024-01-05 10:00:00+01:00",
            "2024-01-05 10:00:00X",
            "1850-01-05 10:00:00",
            "2024-01-05_10:00:00",
        ] {
            assert_eq!(datetime(text.as_bytes()), parse::parse_datetime(text.as_bytes()), "{text}");
        }
        for text in [
            "1.50",
            "-0.00",
            "5.",
            ".5",
            ".",
            "-",
            "+7",
            "123456789012345678",
            "1234567890123456789",
            "9999999999999999999",
            "-99999999999999999.99",
            "0.0000000000000000001",
            "99999999999999999999",
            "1e3",
            "1..2",
            "--1",
            "",
        ] {
            assert_eq!(decimal(text.as_bytes()), general_decimal(text.as_bytes()), "{text}");
        }
    }

    proptest! {
        /// Any date text, valid or not, types as the general parser types it.
        #[test]
        fn dates_agree_with_the_general_parser(
            year in 1850u32..2250, month in 0u32..14, day in 0u32..33,
            noise in proptest::option::of((0usize..10, proptest::sample::select(b"0-9x :/\xff".to_vec()))),
        ) {
            let mut text = format!("{year:04}-{month:02}-{day:02}").into_bytes();
            if let Some((at, byte)) = noise { text[at] = byte; }
            prop_assert_eq!(date(&text), parse::parse_date(&text));
        }

        #[test]
        fn datetimes_agree_with_the_general_parser(
            year in 1850u32..2250, month in 1u32..13, day in 1u32..32, hour in 0u32..25, minute in 0u32..61,
            second in 0u32..61, separator in proptest::sample::select(b"T _".to_vec()),
            zone in proptest::sample::select(vec!["", "Z", "z", "+01:00", ".5Z", ".123456789"]),
            noise in proptest::option::of((0usize..19, proptest::sample::select(b"0:x -/\xff".to_vec()))),
        ) {
            let mut text = format!("{year:04}-{month:02}-{day:02}{}{hour:02}:{minute:02}:{second:02}{zone}", separator as char).into_bytes();
            if let Some((at, byte)) = noise { text[at] = byte; }
            prop_assert_eq!(datetime(&text), parse::parse_datetime(&text));
        }

        #[test]
        fn decimals_agree_with_the_general_parser(text in "[-+]?[0-9]{0,22}(\\.[0-9]{0,22})?|[-+.0-9e]{0,6}") {
            prop_assert_eq!(decimal(text.as_bytes()), general_decimal(text.as_bytes()));
        }
    }
}
