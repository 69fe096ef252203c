//! Parsers for the durations and sizes that flags take (`90s`, `5m`, `512K`, `8M`).

use std::time::Duration;

/// `90`, `90s`, `1500ms`, `5m`, `1h`; zero is refused.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let (value, unit) = split_number(text, "expected a number with `ms`, `s`, `m` or `h`")?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "" | "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        "h" => Duration::from_secs(value.saturating_mul(3600)),
        other => return Err(format!("unknown unit `{other}`: use `ms`, `s`, `m` or `h`")),
    };
    if duration.is_zero() {
        return Err("must be more than zero".to_owned());
    }
    Ok(duration)
}

/// `1048576`, `512K`, `100M`, `2G` (binary units; a trailing `B` or `iB` is
/// allowed); zero is refused.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let (value, unit) = split_number(text, "expected a number of bytes")?;
    let factor: u64 = match unit.trim_end_matches("iB").trim_end_matches('B').to_ascii_uppercase().as_str() {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("unknown unit in `{}`: use K, M or G", text.trim())),
    };
    match value.checked_mul(factor) {
        Some(0) => Err("must be more than zero".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("`{}` is too large", text.trim())),
    }
}

/// Splits `512K` into `512` and `K`.
fn split_number<'a>(text: &'a str, expected: &str) -> Result<(u64, &'a str), String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value = number.parse().map_err(|_| format!("{expected}, got `{text}`"))?;
    Ok((value, unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Err("must be more than zero".to_owned()));
        assert_eq!(parse_duration("1d"), Err("unknown unit `d`: use `ms`, `s`, `m` or `h`".to_owned()));
        assert_eq!(parse_duration("soon"), Err("expected a number with `ms`, `s`, `m` or `h`, got `soon`".to_owned()));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("512K"), Ok(512 * 1024));
        assert_eq!(parse_size("100MB"), Ok(100 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("0M"), Err("must be more than zero".to_owned()));
        assert_eq!(parse_size("5T"), Err("unknown unit in `5T`: use K, M or G".to_owned()));
        assert_eq!(parse_size("99999999999999G"), Err("`99999999999999G` is too large".to_owned()));
    }
}
