//! Backoff with jitter, and reading the `Retry-After` header.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use crate::config::RetryPolicy;

/// The delay before attempt `attempt + 1`, after `attempt` failed attempts:
/// exponential backoff with "equal jitter" (half fixed, half random), and at
/// least what `Retry-After` asked for.
pub(crate) fn delay(policy: &RetryPolicy, failed_attempts: u32, retry_after: Option<Duration>) -> Duration {
    let exponent = failed_attempts.saturating_sub(1).min(20);
    let backoff = policy.initial_delay.saturating_mul(1 << exponent).min(policy.max_delay);
    let half = backoff / 2;
    let jitter = half.mul_f64(random_fraction());
    let computed = half + jitter;
    match retry_after {
        Some(asked) => asked.max(computed.min(asked.saturating_add(half))),
        None => computed,
    }
}

/// A number in `[0, 1)` from the standard library's randomly seeded hasher;
/// good enough to spread retries, no dependency needed.
fn random_fraction() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Reads `Retry-After`: a number of seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = jiff::fmt::rfc2822::parse(value).ok()?;
    let target = SystemTime::try_from(date.timestamp()).ok()?;
    Some(target.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        let huge = parse_retry_after("18446744073709551615", now).unwrap();
        assert!(delay(&RetryPolicy::default(), 1, Some(huge)) >= huge, "no overflow on absurd values");
    }

    #[test]
    fn backoff_doubles_stays_bounded_and_honours_retry_after() {
        let policy = RetryPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let first = delay(&policy, 1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = delay(&policy, 3, None);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
            let late = delay(&policy, 30, None);
            assert!(late <= Duration::from_millis(1000), "{late:?}");
            let asked = delay(&policy, 1, Some(Duration::from_secs(2)));
            assert!(asked >= Duration::from_secs(2) && asked <= Duration::from_millis(2050), "{asked:?}");
        }
    }
}
