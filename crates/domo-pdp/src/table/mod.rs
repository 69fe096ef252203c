//! The typed columnar table: loading CSV by a schema, dictionary-encoded strings, cell access.

use domo_model::Schema;
use rust_decimal::Decimal;

mod batches;
mod cell;
mod column;
mod error;
mod fast;
mod load;
mod value;

pub use batches::{BatchOptions, TableBatch, Threads};
pub(crate) use batches::{Typed, map_batches_typing};
pub(crate) use cell::*;
pub(crate) use column::*;
pub use error::*;
pub use value::*;

/// A DataSet's rows, typed by its schema and stored by column.
///
/// STRING columns are dictionary-encoded (each distinct string once, a 32-bit
/// code per row); the other types are stored as fixed-width values with a NULL
/// mask. Rows are numbered from 0 in DataSet (CSV) order.
#[derive(Debug)]
pub struct Table {
    schema: Schema,
    columns: Vec<ColumnData>,
    rows: usize,
}

impl Table {
    /// How many rows the table holds.
    pub fn row_count(&self) -> usize {
        self.rows
    }

    /// The schema the table was loaded with.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The index of the column with this exact name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.schema.columns.iter().position(|c| c.name == name)
    }

    pub(crate) fn column_data(&self, column: usize) -> Option<&ColumnData> {
        self.columns.get(column)
    }

    /// The typed cell at `row`, `column` (both 0-based); `None` if out of range.
    pub fn value(&self, row: usize, column: usize) -> Option<Value<'_>> {
        if row >= self.rows {
            return None;
        }
        let value = match self.columns.get(column)? {
            ColumnData::String(c) => match *c.codes.get(row)? {
                NULL_CODE => Value::Null,
                code => Value::String(c.dict.get(code)?),
            },
            ColumnData::Long(c) => c.get(row).map_or(Value::Null, Value::Long),
            ColumnData::Double(c) => c.get(row).map_or(Value::Null, Value::Double),
            ColumnData::Decimal(c) => c.get(row).map_or(Value::Null, Value::Decimal),
            ColumnData::ScaledDecimal { scale, data } => {
                data.get(row).and_then(|v| Decimal::try_new(v, *scale).ok()).map_or(Value::Null, Value::Decimal)
            }
            ColumnData::Date(c) => c.get(row).and_then(date_of_days).map_or(Value::Null, Value::Date),
            ColumnData::Datetime(c) => c.get(row).map_or(Value::Null, |ns| Value::Datetime(Datetime(ns))),
            ColumnData::NarrowDatetime(c) => {
                c.get(row).map_or(Value::Null, |ns| Value::Datetime(Datetime(i128::from(ns))))
            }
        };
        Some(value)
    }

    /// The distinct non-NULL values of a column, each with the number of rows
    /// holding it, in order of first appearance. `None` if there is no such column.
    ///
    /// Values that compare equal count as one (`1.5` and `1.50` in a DECIMAL column).
    pub fn distinct_values(&self, column: usize) -> Option<Vec<(Value<'_>, usize)>> {
        match self.columns.get(column)? {
            ColumnData::String(c) => {
                Some(c.dict.iter().zip(c.counts.iter()).map(|(s, &n)| (Value::String(s), n as usize)).collect())
            }
            _ => {
                let mut seen: hashbrown::HashMap<String, usize> = hashbrown::HashMap::new();
                let mut out: Vec<(Value<'_>, usize)> = Vec::new();
                for row in 0..self.rows {
                    let value = self.value(row, column)?;
                    if value.is_null() {
                        continue;
                    }
                    let key = match value {
                        Value::Decimal(d) => d.normalize().to_string(),
                        other => other.to_string(),
                    };
                    match seen.get(&key) {
                        Some(&at) => {
                            if let Some(entry) = out.get_mut(at) {
                                entry.1 += 1;
                            }
                        }
                        None => {
                            seen.insert(key, out.len());
                            out.push((value, 1));
                        }
                    }
                }
                Some(out)
            }
        }
    }
}
