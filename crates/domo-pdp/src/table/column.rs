//! Column storage: dictionary-encoded STRING columns with posting lists, fixed-width columns with a NULL mask.

use std::sync::OnceLock;

use domo_model::ColumnType;
use fixedbitset::FixedBitSet;
use hashbrown::HashTable;
use rust_decimal::Decimal;

use crate::parse;

use super::cell::{CellError, cell_error};
use super::error::LoadCsvError;

pub(crate) const NULL_CODE: u32 = u32::MAX;

/// Distinct strings of one column, each stored once.
#[derive(Debug, Default)]
pub(crate) struct Dictionary {
    text: String,
    ends: Vec<usize>,
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl Dictionary {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn get(&self, code: u32) -> Option<&str> {
        dict_get(&self.text, &self.ends, code)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len()).filter_map(|code| u32::try_from(code).ok().and_then(|code| self.get(code)))
    }

    /// The code of a string, if the column holds it.
    pub(crate) fn lookup(&self, s: &str) -> Option<u32> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(s.as_bytes());
        self.index.find(hash, |&code| dict_is(&self.text, &self.ends, code, s)).copied()
    }

    pub(super) fn intern(&mut self, s: &str) -> Option<u32> {
        self.intern_bytes(s.as_bytes()).ok().flatten()
    }

    /// The code of a cell's bytes, added when new. Only new strings are checked
    /// for UTF-8: bytes equal to an entry are valid, as every entry was checked.
    pub(super) fn intern_bytes(&mut self, bytes: &[u8]) -> Result<Option<u32>, Interned> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(bytes);
        let (text, ends) = (&self.text, &self.ends);
        if let Some(&code) = self.index.find(hash, |&code| dict_is_bytes(text, ends, code, bytes)) {
            return Ok(Some(code));
        }
        let s = std::str::from_utf8(bytes).map_err(|_| Interned::NotUtf8)?;
        Ok(self.insert_new(hash, s))
    }

    fn insert_new(&mut self, hash: u64, s: &str) -> Option<u32> {
        use std::hash::BuildHasher;
        let code = u32::try_from(self.ends.len()).ok().filter(|&c| c != NULL_CODE)?;
        self.text.push_str(s);
        self.ends.push(self.text.len());
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.index.insert_unique(hash, code, |&c| hasher.hash_one(dict_get(text, ends, c).unwrap_or("").as_bytes()));
        Some(code)
    }
}

fn dict_get<'a>(text: &'a str, ends: &[usize], code: u32) -> Option<&'a str> {
    let code = usize::try_from(code).ok()?;
    let end = *ends.get(code)?;
    let start = match code.checked_sub(1) {
        Some(previous) => *ends.get(previous)?,
        None => 0,
    };
    text.get(start..end)
}

/// Why a cell could not be interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Interned {
    /// The bytes are not UTF-8.
    NotUtf8,
}

/// Whether entry `code` is `s`, comparing bytes (no character-boundary checks).
fn dict_is(text: &str, ends: &[usize], code: u32, s: &str) -> bool {
    dict_is_bytes(text, ends, code, s.as_bytes())
}

/// Whether entry `code` holds exactly `s`'s bytes.
fn dict_is_bytes(text: &str, ends: &[usize], code: u32, s: &[u8]) -> bool {
    let Some(end) = ends.get(code as usize) else { return false };
    let start = match (code as usize).checked_sub(1) {
        Some(previous) => ends.get(previous).copied().unwrap_or(0),
        None => 0,
    };
    text.as_bytes().get(start..*end).is_some_and(|entry| short_eq(entry, s))
}

/// Byte equality without a call to `memcmp` for the short strings a column
/// mostly holds: interning compares every cell with an entry.
#[inline]
pub(crate) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    fn word<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
        bytes.get(at..at + N).and_then(|w| <[u8; N]>::try_from(w).ok())
    }
    let len = a.len();
    if len != b.len() {
        return false;
    }
    // Two overlapping words cover lengths from one word to two.
    match len {
        0 => true,
        1..4 => a == b,
        4..8 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, len - 4) == word::<4>(b, len - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, len - 8) == word::<8>(b, len - 8),
        _ => a == b,
    }
}

/// For each code, the rows holding it, in row order: one array, sliced by code.
#[derive(Debug)]
pub(crate) struct Postings {
    offsets: Vec<u32>,
    pub(crate) rows: std::sync::Arc<Vec<u32>>,
}

impl Postings {
    /// Where a code's rows start and end in [`Postings::rows`].
    pub(crate) fn range(&self, code: u32) -> (usize, usize) {
        let code = code as usize;
        match (self.offsets.get(code), self.offsets.get(code + 1)) {
            (Some(&start), Some(&end)) => (start as usize, end as usize),
            _ => (0, 0),
        }
    }

    pub(crate) fn rows(&self, code: u32) -> &[u32] {
        let (start, end) = self.range(code);
        self.rows.get(start..end).unwrap_or_default()
    }
}

/// A dictionary-encoded STRING column.
#[derive(Debug, Default)]
pub(crate) struct StringColumn {
    pub(crate) codes: Vec<u32>,
    pub(crate) dict: Dictionary,
    /// How many rows hold each code.
    pub(crate) counts: Vec<u32>,
    postings: OnceLock<Postings>,
}

impl StringColumn {
    /// The posting lists, built on first use.
    pub(crate) fn postings(&self) -> &Postings {
        self.postings.get_or_init(|| {
            let mut offsets = Vec::with_capacity(self.counts.len() + 1);
            let mut total = 0u32;
            offsets.push(0);
            for &count in &self.counts {
                total = total.saturating_add(count);
                offsets.push(total);
            }
            let mut cursor: Vec<u32> = offsets.clone();
            let mut rows = vec![0u32; total as usize];
            for (row, &code) in self.codes.iter().enumerate() {
                if let Some(slot) = cursor.get_mut(code as usize)
                    && let Some(target) = rows.get_mut(*slot as usize)
                {
                    *target = u32::try_from(row).unwrap_or(u32::MAX);
                    *slot += 1;
                }
            }
            Postings { offsets, rows: std::sync::Arc::new(rows) }
        })
    }

    /// Makes room for `rows` more cells, and for a few thousand distinct strings (growing
    /// a batch's dictionary from nothing rehashes it a dozen times).
    pub(super) fn reserve(&mut self, rows: usize) {
        self.codes.reserve(rows);
        let distinct = rows.min(4096);
        let (text, ends, hasher) = (&self.dict.text, &self.dict.ends, &self.dict.hasher);
        self.dict.index.reserve(distinct, |&c| {
            use std::hash::BuildHasher;
            hasher.hash_one(dict_get(text, ends, c).unwrap_or("").as_bytes())
        });
        self.dict.ends.reserve(distinct);
        self.counts.reserve(distinct);
    }

    /// Pushes a non-NULL cell from its bytes: `Err` when they are not UTF-8,
    /// `Ok(None)` when the dictionary is full.
    pub(super) fn push_bytes(&mut self, bytes: &[u8]) -> Result<Option<()>, Interned> {
        let Some(code) = self.dict.intern_bytes(bytes)? else { return Ok(None) };
        match self.counts.get_mut(code as usize) {
            Some(count) => *count += 1,
            None => self.counts.push(1),
        }
        self.codes.push(code);
        Ok(Some(()))
    }

    pub(super) fn push(&mut self, s: Option<&str>) -> Option<()> {
        let code = match s {
            Some(s) => {
                let code = self.dict.intern(s)?;
                match self.counts.get_mut(code as usize) {
                    Some(count) => *count += 1,
                    None => self.counts.push(1),
                }
                code
            }
            None => NULL_CODE,
        };
        self.codes.push(code);
        Some(())
    }
}

/// A fixed-width column with a NULL mask.
#[derive(Debug, Default)]
pub(crate) struct Typed<T> {
    pub(crate) values: Vec<T>,
    pub(crate) nulls: FixedBitSet,
}

impl<T: Copy + Default> Typed<T> {
    pub(super) fn push(&mut self, value: Option<T>) -> Option<()> {
        let row = self.values.len();
        self.values.push(value.unwrap_or_default());
        if value.is_none() {
            self.nulls.grow(row + 1);
            self.nulls.insert(row);
        }
        Some(())
    }

    pub(crate) fn get(&self, row: usize) -> Option<T> {
        if self.nulls.contains(row) { None } else { self.values.get(row).copied() }
    }

    /// Pushes a column's cells from a batch (an empty field is NULL); stops at the first bad one.
    pub(super) fn push_cells<'b>(
        &mut self,
        cells: impl Iterator<Item = (u64, &'b [u8], bool)>,
        column: &domo_model::Column,
        index: usize,
        parse: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<(), (u64, usize, LoadCsvError)> {
        self.values.reserve(cells.size_hint().0);
        for (row, bytes, _) in cells {
            if bytes.is_empty() {
                self.push(None);
            } else {
                match parse(bytes) {
                    Some(value) => self.values.push(value),
                    None => return Err((row, index, cell_error(row, column, bytes, CellError::Type))),
                }
            }
        }
        Ok(())
    }

    pub(super) fn finish(&mut self, rows: usize) {
        self.nulls.grow(rows);
        self.values.shrink_to_fit();
    }
}

/// A DECIMAL column being loaded: each cell's mantissa and scale, made integers at the
/// column's largest scale when the column is done (see [`ColumnData::ScaledDecimal`]).
#[derive(Debug, Default)]
pub(super) enum DecimalCells {
    /// Every mantissa so far fits an `i64` (a NULL is `(0, 0)` and a bit in `nulls`).
    #[default]
    Empty,
    Pairs {
        mantissas: Vec<i64>,
        scales: Vec<u8>,
        nulls: FixedBitSet,
    },
    /// Some mantissa does not: the exact values, as the general parser gives them.
    Exact(Typed<Decimal>),
}

impl DecimalCells {
    /// Pushes a column's cells from a batch (an empty field is NULL); stops at the first bad one.
    pub(super) fn push_cells<'b>(
        &mut self,
        cells: impl Iterator<Item = (u64, &'b [u8], bool)>,
        column: &domo_model::Column,
        index: usize,
    ) -> Result<(), (u64, usize, LoadCsvError)> {
        let rows = cells.size_hint().0;
        for (row, bytes, _) in cells {
            let bad = || (row, index, cell_error(row, column, bytes, CellError::Type));
            let pair = if bytes.is_empty() { None } else { Some(super::fast::decimal(bytes).map_err(|()| bad())?) };
            if let Self::Empty = self {
                *self = Self::Pairs {
                    mantissas: Vec::with_capacity(rows),
                    scales: Vec::with_capacity(rows),
                    nulls: FixedBitSet::new(),
                };
            }
            match (&mut *self, pair) {
                (Self::Pairs { mantissas, scales, nulls }, None) => {
                    nulls.grow(mantissas.len() + 1);
                    nulls.insert(mantissas.len());
                    mantissas.push(0);
                    scales.push(0);
                }
                (Self::Pairs { mantissas, scales, .. }, Some(Some((mantissa, scale)))) => {
                    mantissas.push(mantissa);
                    scales.push(scale);
                }
                (Self::Exact(typed), None) => {
                    typed.push(None);
                }
                (Self::Exact(typed), Some(pair)) => {
                    let value = match pair {
                        Some((mantissa, scale)) => super::fast::exact(mantissa, scale),
                        None => parse::parse_decimal(bytes),
                    };
                    typed.values.push(value.ok_or_else(bad)?);
                }
                (Self::Pairs { .. }, Some(None)) => {
                    // A mantissa past 64 bits: keep every value exact from here on.
                    let mut typed = self.take_exact().ok_or_else(bad)?;
                    typed.values.push(parse::parse_decimal(bytes).ok_or_else(bad)?);
                    *self = Self::Exact(typed);
                }
                (Self::Empty, _) => {}
            }
        }
        Ok(())
    }

    /// The cells so far as exact decimals (`None` only if a scale were past 28, which no parser gives).
    fn take_exact(&mut self) -> Option<Typed<Decimal>> {
        match std::mem::take(self) {
            Self::Empty => Some(Typed::default()),
            Self::Pairs { mantissas, scales, nulls } => {
                let values = mantissas
                    .iter()
                    .zip(&scales)
                    .map(|(&mantissa, &scale)| super::fast::exact(mantissa, scale))
                    .collect::<Option<Vec<Decimal>>>()?;
                Some(Typed { values, nulls })
            }
            Self::Exact(typed) => Some(typed),
        }
    }

    /// The finished column of `rows` rows: integers at the largest scale when every value
    /// fits an `i64` that way, else the exact values (as [`scale_decimals`] decides).
    pub(super) fn finish(mut self, rows: usize) -> ColumnData {
        if let Self::Pairs { mantissas, scales, nulls } = &mut self {
            let scale = scales.iter().copied().max().unwrap_or(0);
            let scaled = |mantissa: i64, from: u8| {
                let factor = 10i128.checked_pow(u32::from(scale - from))?;
                i64::try_from(i128::from(mantissa).checked_mul(factor)?).ok()
            };
            // Checked before any value changes, so that the exact values stay whole otherwise.
            if mantissas.iter().zip(scales.iter()).all(|(&m, &s)| s == scale || scaled(m, s).is_some()) {
                for (mantissa, &from) in mantissas.iter_mut().zip(scales.iter()) {
                    if from != scale {
                        *mantissa = scaled(*mantissa, from).unwrap_or_default();
                    }
                }
                let mut data = Typed { values: std::mem::take(mantissas), nulls: std::mem::take(nulls) };
                data.finish(rows);
                return ColumnData::ScaledDecimal { scale: u32::from(scale), data };
            }
        }
        let mut typed = self.take_exact().unwrap_or_default();
        typed.finish(rows);
        match scale_decimals(&typed) {
            Some(scaled) => scaled,
            None => ColumnData::Decimal(typed),
        }
    }
}

/// One column's data.
#[derive(Debug)]
pub(crate) enum ColumnData {
    String(StringColumn),
    Long(Typed<i64>),
    Double(Typed<f64>),
    /// DECIMAL as parsed (only while loading, or when values do not fit the scaled form).
    Decimal(Typed<Decimal>),
    /// DECIMAL as integers at one scale for the whole column (the largest scale seen):
    /// `1.5` and `1.50` are both 150 at scale 2. Compares as fast as a LONG.
    ScaledDecimal {
        scale: u32,
        data: Typed<i64>,
    },
    /// Days since 1970-01-01.
    Date(Typed<i32>),
    /// Nanoseconds since 1970-01-01T00:00:00Z (while loading, or when some value is
    /// outside the years 1677 to 2262).
    Datetime(Typed<i128>),
    /// Nanoseconds since 1970-01-01T00:00:00Z, when every value fits in an `i64`.
    NarrowDatetime(Typed<i64>),
}

impl ColumnData {
    pub(super) fn new(column_type: ColumnType) -> Self {
        match column_type {
            ColumnType::String => ColumnData::String(StringColumn::default()),
            ColumnType::Long => ColumnData::Long(Typed::default()),
            ColumnType::Double => ColumnData::Double(Typed::default()),
            ColumnType::Decimal => ColumnData::Decimal(Typed::default()),
            ColumnType::Date => ColumnData::Date(Typed::default()),
            ColumnType::Datetime => ColumnData::Datetime(Typed::default()),
        }
    }
}

/// The column as integers at its largest scale, if every value fits in an `i64` that way.
pub(super) fn scale_decimals(column: &Typed<Decimal>) -> Option<ColumnData> {
    let scale = column.values.iter().map(Decimal::scale).max().unwrap_or(0);
    let mut values = Vec::with_capacity(column.values.len());
    for value in &column.values {
        let factor = 10i128.checked_pow(scale - value.scale())?;
        values.push(i64::try_from(value.mantissa().checked_mul(factor)?).ok()?);
    }
    Some(ColumnData::ScaledDecimal { scale, data: Typed { values, nulls: column.nulls.clone() } })
}

/// A date as `jiff`'s civil date (days since 1970-01-01 in, `None` if out of range).
pub(crate) fn date_of_days(days: i32) -> Option<jiff::civil::Date> {
    let (y, m, d) = parse::civil_from_days(i64::from(days));
    jiff::civil::Date::new(i16::try_from(y).ok()?, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DECIMAL column as the loader built it before `DecimalCells`: every cell parsed
    /// exactly, then made integers at the largest scale when they all fit.
    fn plain_decimal_column(cells: &[&str]) -> ColumnData {
        let mut typed: Typed<Decimal> = Typed::default();
        for text in cells {
            typed.push(if text.is_empty() { None } else { parse::parse_decimal(text.as_bytes()) });
        }
        typed.finish(cells.len());
        scale_decimals(&typed).unwrap_or(ColumnData::Decimal(typed))
    }

    /// What a column holds, NULLs as row numbers (a bit set's `Debug` shows its pointer).
    fn describe(data: &ColumnData) -> String {
        match data {
            ColumnData::ScaledDecimal { scale, data } => {
                format!("scale {scale}: {:?}, NULL at {:?}", data.values, data.nulls.ones().collect::<Vec<_>>())
            }
            ColumnData::Decimal(c) => {
                format!("exact: {:?}, NULL at {:?}", c.values, c.nulls.ones().collect::<Vec<_>>())
            }
            other => format!("{other:?}"),
        }
    }

    fn decimal_column(cells: &[&str]) -> ColumnData {
        let column = domo_model::Column::new(ColumnType::Decimal, "amount");
        let mut built = DecimalCells::default();
        built.push_cells(cells.iter().map(|text| (2, text.as_bytes(), false)), &column, 0).unwrap();
        built.finish(cells.len())
    }

    #[test]
    fn decimal_columns_match_the_plain_loader() {
        for cells in [
            &["1.5", "", "2.25", "-0.00", "7"][..],
            &["", ""],
            &[],
            // Past 64 bits: exact from then on, each value keeping its own scale.
            &["1.5", "123456789012345678901234", "2.250"],
            // Each fits alone, not at the largest scale: exact.
            &["9223372036854775807", "0.5"],
            &["0.0000000000000000000000000001", "0"],
        ] {
            assert_eq!(describe(&decimal_column(cells)), describe(&plain_decimal_column(cells)), "{cells:?}");
        }
    }

    #[test]
    fn a_bad_decimal_cell_names_its_row_and_column() {
        let column = domo_model::Column::new(ColumnType::Decimal, "amount");
        let mut built = DecimalCells::default();
        let cells = [(2, &b"1.5"[..], false), (3, b"1e3", false)];
        let (row, index, error) = built.push_cells(cells.into_iter(), &column, 4).unwrap_err();
        assert_eq!((row, index), (3, 4));
        assert_eq!(
            error.to_string(),
            "row 3, column `amount`: `1e3` is not a valid DECIMAL (expected a decimal such as `-1.50`, no exponent)"
        );
    }

    proptest::proptest! {
        /// Any mix of cells (short, long, NULL, mixed scales, past 64 bits) loads as before.
        #[test]
        fn decimal_columns_match_the_plain_loader_on_any_cells(
            cells in proptest::collection::vec("|-?[0-9]{1,3}(\\.[0-9]{0,4})?|[0-9]{17,21}(\\.[0-9]{0,6})?|-?0\\.[0-9]{20,28}", 0..12),
        ) {
            let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(describe(&decimal_column(&cells)), describe(&plain_decimal_column(&cells)));
        }
    }

    proptest::proptest! {
        /// The interning comparison says what `==` says, at every length around its word sizes.
        #[test]
        fn short_eq_is_byte_equality(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
            flip in proptest::option::of((0usize..24, 1u8..=255)),
            grow in proptest::prelude::any::<bool>(),
        ) {
            let mut b = a.clone();
            if let Some((at, by)) = flip && let Some(byte) = b.get_mut(at) {
                *byte ^= by;
            }
            if grow {
                b.push(0);
            }
            proptest::prop_assert_eq!(short_eq(&a, &b), a == b);
            proptest::prop_assert!(short_eq(&a, &a));
        }
    }
}
