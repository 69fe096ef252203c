//! Ordered tests on DECIMAL and DATETIME literals as the same tests on the `i64` cells of scaled
//! DECIMAL and narrow DATETIME columns (used by the scans and by the batch value ranges).

use rust_decimal::{Decimal, RoundingStrategy};

use crate::filter::{Cmp, OrdTest};

/// Where a DECIMAL literal falls among integers at `scale`: below them all, at or just
/// above one (`floor`, and whether it is exact), or above them all.
enum Scaled {
    Below,
    Floor(i64, bool),
    Above,
}

fn scale_literal(value: Decimal, scale: u32) -> Scaled {
    let floor = value.round_dp_with_strategy(scale, RoundingStrategy::ToNegativeInfinity);
    let exact = floor == value;
    let factor = scale.checked_sub(floor.scale()).and_then(|d| 10i128.checked_pow(d));
    match factor.and_then(|f| floor.mantissa().checked_mul(f)).map(i64::try_from) {
        Some(Ok(v)) => Scaled::Floor(v, exact),
        _ if value.is_sign_negative() => Scaled::Below,
        _ => Scaled::Above,
    }
}

/// A DATETIME test on `i128` nanoseconds as the same test on `i64` nanoseconds.
pub(super) fn narrow_test(test: &OrdTest<i128>) -> OrdTest<i64> {
    integer_test(test, |&v| match i64::try_from(v) {
        Ok(v) => Scaled::Floor(v, true),
        Err(_) if v < 0 => Scaled::Below,
        Err(_) => Scaled::Above,
    })
}

/// A DECIMAL test as the same test on integers at `scale` (cells are integers there, so a
/// literal between two integers moves to the right side of the comparison).
pub(super) fn scaled_test(test: &OrdTest<Decimal>, scale: u32) -> OrdTest<i64> {
    integer_test(test, |v| scale_literal(*v, scale))
}

/// A test as the same test on `i64` cells, given where each literal falls among them.
fn integer_test<T>(test: &OrdTest<T>, place: impl Fn(&T) -> Scaled) -> OrdTest<i64> {
    const NEVER: OrdTest<i64> = OrdTest::AnyOf(Vec::new());
    const ALWAYS: OrdTest<i64> = OrdTest::Between(i64::MIN, i64::MAX);
    match test {
        OrdTest::AnyOf(values) => OrdTest::AnyOf(
            values
                .iter()
                .filter_map(|v| match place(v) {
                    Scaled::Floor(v, true) => Some(v),
                    _ => None,
                })
                .collect(),
        ),
        OrdTest::Cmp(cmp, value) => match (place(value), cmp) {
            (Scaled::Below, Cmp::Gt | Cmp::Ge) | (Scaled::Above, Cmp::Lt | Cmp::Le) => ALWAYS,
            (Scaled::Below, _) | (Scaled::Above, _) => NEVER,
            (Scaled::Floor(f, _), Cmp::Gt) => OrdTest::Cmp(Cmp::Gt, f),
            (Scaled::Floor(f, true), Cmp::Ge) => OrdTest::Cmp(Cmp::Ge, f),
            (Scaled::Floor(f, false), Cmp::Ge) => OrdTest::Cmp(Cmp::Gt, f),
            (Scaled::Floor(f, true), Cmp::Lt) => OrdTest::Cmp(Cmp::Lt, f),
            (Scaled::Floor(f, false), Cmp::Lt) => OrdTest::Cmp(Cmp::Le, f),
            (Scaled::Floor(f, _), Cmp::Le) => OrdTest::Cmp(Cmp::Le, f),
        },
        OrdTest::Between(low, high) => {
            let low = match place(low) {
                Scaled::Below => Some(i64::MIN),
                Scaled::Floor(f, true) => Some(f),
                Scaled::Floor(f, false) => f.checked_add(1),
                Scaled::Above => None,
            };
            let high = match place(high) {
                Scaled::Below => None,
                Scaled::Floor(f, _) => Some(f),
                Scaled::Above => Some(i64::MAX),
            };
            match (low, high) {
                (Some(l), Some(h)) => OrdTest::Between(l, h),
                _ => NEVER,
            }
        }
    }
}
