//! Each integer-valued column's smallest and largest value in a table: filters that every row, or no row, passes are decided without a scan.

use std::sync::OnceLock;

use fixedbitset::FixedBitSet;

use crate::filter::{Cmp, CompiledFilter, OrdTest, Test};
use crate::table::{ColumnData, Table};

use super::integer_tests::{narrow_test, scaled_test};

/// What a table's value range says about a filter, before reading its rows.
pub(super) enum Decided<'t> {
    /// No row passes.
    NoRow,
    /// Every row with a value passes: the filter is "not NULL" (the column's NULL mask).
    EveryValue(&'t FixedBitSet),
}

/// The smallest and largest non-NULL value of each LONG, DECIMAL (scaled), DATE and DATETIME (narrow)
/// column of one table (a batch), each computed on first use.
///
/// Where a batch's values are clustered (ids and timestamps that grow with the file), a bound outside
/// the batch's range decides the filter for the whole batch.
pub(super) struct Ranges<'t> {
    table: &'t Table,
    /// Per column: `None` when every cell is NULL.
    spans: Vec<OnceLock<Option<(i64, i64)>>>,
}

impl<'t> Ranges<'t> {
    pub(super) fn new(table: &'t Table) -> Self {
        Self { table, spans: (0..table.schema().columns.len()).map(|_| OnceLock::new()).collect() }
    }

    /// Ranges that decide nothing: for evaluating one policy of a table, where computing a
    /// column's range would cost as much as the scan it might spare.
    pub(super) fn none(table: &'t Table) -> Self {
        Self { table, spans: Vec::new() }
    }

    /// The filter's answer for every row, when the column's range decides it; `None` when rows must be read.
    pub(super) fn decide(&self, filter: &CompiledFilter) -> Option<Decided<'t>> {
        let data = self.table.column_data(filter.column)?;
        let span = || self.spans.get(filter.column).map(|span| *span.get_or_init(|| span_of(data)));
        let (passes, nulls) = match (data, &filter.test) {
            (ColumnData::Long(c), Test::Long(t)) => (decide_ord(t, span()??), &c.nulls),
            (ColumnData::ScaledDecimal { scale, data }, Test::Decimal(t)) => {
                (decide_ord(&scaled_test(t, *scale), span()??), &data.nulls)
            }
            (ColumnData::Date(c), Test::Date(t)) => {
                let (low, high) = span()??;
                let (low, high) = (i32::try_from(low).ok()?, i32::try_from(high).ok()?);
                (decide_ord(t, (low, high)), &c.nulls)
            }
            (ColumnData::NarrowDatetime(c), Test::Datetime(t)) => (decide_ord(&narrow_test(t), span()??), &c.nulls),
            _ => return None,
        };
        // `not` turns "every value passes" into "none does" and the reverse (NULL never passes either way).
        match passes? != filter.filter.not {
            true => Some(Decided::EveryValue(nulls)),
            false => Some(Decided::NoRow),
        }
    }
}

/// The smallest and largest non-NULL value, widened to `i64`; `None` for a column of NULLs only or
/// a column of another type (its filters are then read row by row).
fn span_of(data: &ColumnData) -> Option<(i64, i64)> {
    match data {
        ColumnData::Long(c) | ColumnData::ScaledDecimal { data: c, .. } | ColumnData::NarrowDatetime(c) => {
            span(&c.values, &c.nulls)
        }
        ColumnData::Date(c) => span(&c.values, &c.nulls).map(|(low, high)| (i64::from(low), i64::from(high))),
        _ => None,
    }
}

fn span<T: Copy + Ord + Bounded>(values: &[T], nulls: &FixedBitSet) -> Option<(T, T)> {
    let (mut low, mut high) = (T::MAX, T::MIN);
    let mut any = false;
    let nulls = nulls.as_slice();
    for (index, chunk) in values.chunks(usize::BITS as usize).enumerate() {
        let null_word = nulls.get(index).copied().unwrap_or(0);
        for (bit, &value) in chunk.iter().enumerate() {
            // A NULL cell holds a default value: it must not widen the range.
            let null = null_word >> bit & 1 == 1;
            low = low.min(if null { T::MAX } else { value });
            high = high.max(if null { T::MIN } else { value });
            any |= !null;
        }
    }
    any.then_some((low, high))
}

/// The extremes of an integer type.
trait Bounded {
    const MIN: Self;
    const MAX: Self;
}

impl Bounded for i64 {
    const MIN: Self = i64::MIN;
    const MAX: Self = i64::MAX;
}

impl Bounded for i32 {
    const MIN: Self = i32::MIN;
    const MAX: Self = i32::MAX;
}

/// Whether `test` holds for every value in `low..=high` (`Some(true)`), for none (`Some(false)`), or
/// depends on the value (`None`).
fn decide_ord<T: PartialOrd + Copy>(test: &OrdTest<T>, (low, high): (T, T)) -> Option<bool> {
    match test {
        OrdTest::AnyOf(values) => {
            if values.iter().all(|v| *v < low || *v > high) {
                Some(false)
            } else if low == high {
                Some(true)
            } else {
                None
            }
        }
        OrdTest::Cmp(cmp, bound) => {
            let bound = *bound;
            let (every, none) = match cmp {
                Cmp::Gt => (low > bound, high <= bound),
                Cmp::Ge => (low >= bound, high < bound),
                Cmp::Lt => (high < bound, low >= bound),
                Cmp::Le => (high <= bound, low > bound),
            };
            decided(every, none)
        }
        OrdTest::Between(from, to) => decided(*from <= low && high <= *to, high < *from || low > *to),
    }
}

fn decided(every: bool, none: bool) -> Option<bool> {
    match (every, none) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use domo_model::{Column, ColumnType, FilterOperator, PolicyFilter, Schema};
    use proptest::prelude::*;

    use super::*;
    use crate::eval::scan::typed_passes;
    use crate::filter::compile_test;
    use crate::table::HeaderRow;

    /// The text of cell `v` in a column of `column_type`.
    fn text(column_type: ColumnType, v: i64) -> String {
        match column_type {
            ColumnType::Date => format!("2024-01-{:02}", 10 + v),
            ColumnType::Datetime => format!("2024-01-01 00:00:{:02}", 10 + v),
            ColumnType::Decimal => format!("{}.5", v),
            _ => v.to_string(),
        }
    }

    proptest! {
        /// A decided filter says of every row what testing the row says: no row passes, or
        /// exactly the rows with a value.
        #[test]
        fn decided_filters_agree_with_each_row(
            column_type in prop::sample::select(vec![ColumnType::Long, ColumnType::Date, ColumnType::Datetime, ColumnType::Decimal]),
            cells in prop::collection::vec(prop::option::of(-4i64..5), 1..12),
            operator in prop::sample::select(vec![
                FilterOperator::Equals,
                FilterOperator::GreaterThan,
                FilterOperator::GreaterThanEqual,
                FilterOperator::LessThan,
                FilterOperator::LessThanEqual,
                FilterOperator::Between,
            ]),
            values in prop::collection::vec(-6i64..7, 1..3),
            not in any::<bool>(),
        ) {
            let count = match operator {
                FilterOperator::Equals => values.len(),
                FilterOperator::Between => 2,
                _ => 1,
            };
            prop_assume!(values.len() >= count);
            let values: Vec<String> = values.iter().take(count).map(|&v| text(column_type, v)).collect();
            let filter = PolicyFilter { column: "c".into(), values, operator, not };
            let test = compile_test(&filter, column_type).unwrap();
            let filter = CompiledFilter { column: 0, column_type, filter, test };
            let schema = Schema { columns: vec![Column::new(column_type, "c")] };
            let csv: String = cells.iter().map(|c| c.map(|v| text(column_type, v)).unwrap_or_default() + "\n").collect();
            let table = Table::from_csv(csv.as_bytes(), &schema, HeaderRow::Absent).unwrap();
            let data = table.column_data(0).unwrap();
            let passes: Vec<bool> = (0..cells.len()).map(|row| typed_passes(data, &filter, row)).collect();
            match Ranges::new(&table).decide(&filter) {
                None => {}
                Some(Decided::NoRow) => prop_assert!(passes.iter().all(|p| !p), "{:?} on {:?}", filter.filter, cells),
                Some(Decided::EveryValue(nulls)) => {
                    for (row, cell) in cells.iter().enumerate() {
                        prop_assert_eq!(cell.is_some(), !nulls.contains(row));
                        prop_assert_eq!(passes[row], cell.is_some(), "{:?} on {:?}", filter.filter, cells);
                    }
                }
            }
        }
    }
}
