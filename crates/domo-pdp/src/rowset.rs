//! Row sets: every row, a sorted list of row numbers (sparse), or a bitmap (dense), whichever fits.

use fixedbitset::FixedBitSet;

/// Above this share of the rows (1/32), a bitmap is smaller than a list of 32-bit row numbers.
const DENSE_SHARE: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    All,
    Sparse(Vec<u32>),
    Dense { bits: FixedBitSet, len: usize },
}

/// A set of rows of one table, iterated in DataSet order.
///
/// Small sets are sorted lists of row numbers (4 bytes a row); large ones are
/// bitmaps (1 bit per row of the table); "every row" takes no space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowSet {
    universe: usize,
    repr: Repr,
}

impl RowSet {
    /// Every row of a table with `universe` rows.
    pub fn all(universe: usize) -> Self {
        Self { universe, repr: Repr::All }
    }

    /// No row.
    pub fn empty(universe: usize) -> Self {
        Self { universe, repr: Repr::Sparse(Vec::new()) }
    }

    /// From sorted, distinct row numbers; picks the smaller representation.
    pub(crate) fn from_sorted(universe: usize, rows: Vec<u32>) -> Self {
        if rows.len() == universe {
            return Self::all(universe);
        }
        if rows.len().saturating_mul(DENSE_SHARE) > universe {
            let mut bits = FixedBitSet::with_capacity(universe);
            for &row in &rows {
                bits.insert(row as usize);
            }
            let len = rows.len();
            return Self { universe, repr: Repr::Dense { bits, len } };
        }
        Self { universe, repr: Repr::Sparse(rows) }
    }

    /// From a bitmap of `universe` bits; picks the smaller representation.
    pub(crate) fn from_bits(universe: usize, mut bits: FixedBitSet) -> Self {
        bits.grow(universe);
        let len = bits.count_ones(..);
        if len == universe {
            return Self::all(universe);
        }
        if len.saturating_mul(DENSE_SHARE) > universe {
            return Self { universe, repr: Repr::Dense { bits, len } };
        }
        let rows = bits.ones().filter_map(|r| u32::try_from(r).ok()).collect();
        Self { universe, repr: Repr::Sparse(rows) }
    }

    /// How many rows are in the set.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::All => self.universe,
            Repr::Sparse(rows) => rows.len(),
            Repr::Dense { len, .. } => *len,
        }
    }

    /// Whether the set has no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every row of the table is in the set.
    pub fn is_all(&self) -> bool {
        self.len() == self.universe
    }

    /// How many rows the table has.
    pub fn universe(&self) -> usize {
        self.universe
    }

    /// Whether `row` is in the set.
    pub fn contains(&self, row: usize) -> bool {
        match &self.repr {
            Repr::All => row < self.universe,
            Repr::Sparse(rows) => u32::try_from(row).is_ok_and(|row| rows.binary_search(&row).is_ok()),
            Repr::Dense { bits, .. } => bits.contains(row),
        }
    }

    /// The rows, in DataSet order.
    pub fn iter(&self) -> Rows<'_> {
        Rows {
            inner: match &self.repr {
                Repr::All => RowsInner::Range(0..self.universe),
                Repr::Sparse(rows) => RowsInner::Sparse(rows.iter()),
                Repr::Dense { bits, .. } => RowsInner::Dense(bits.ones()),
            },
        }
    }

    /// Bytes of memory the set takes (roughly).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::All => 0,
            Repr::Sparse(rows) => rows.capacity() * 4,
            Repr::Dense { bits, .. } => bits.len().div_ceil(8),
        }
    }

    pub(crate) fn as_dense(&self) -> Option<&FixedBitSet> {
        match &self.repr {
            Repr::Dense { bits, .. } => Some(bits),
            _ => None,
        }
    }

    pub(crate) fn as_sparse(&self) -> Option<&[u32]> {
        match &self.repr {
            Repr::Sparse(rows) => Some(rows),
            _ => None,
        }
    }

    /// The union of several sets over the same table.
    pub fn union<'a>(universe: usize, sets: impl IntoIterator<Item = &'a RowSet>) -> RowSet {
        let sets: Vec<&RowSet> = sets.into_iter().collect();
        match sets.as_slice() {
            [] => return RowSet::empty(universe),
            [one] => return (*one).clone(),
            _ => {}
        }
        if sets.iter().any(|s| s.is_all()) {
            return RowSet::all(universe);
        }
        let mut dense = sets.iter().filter_map(|s| s.as_dense());
        if let Some(first) = dense.next() {
            let mut bits = first.clone();
            for other in dense {
                bits.union_with(other);
            }
            for rows in sets.iter().filter_map(|s| s.as_sparse()) {
                for &row in rows {
                    bits.insert(row as usize);
                }
            }
            return RowSet::from_bits(universe, bits);
        }
        let mut rows: Vec<u32> = sets.iter().filter_map(|s| s.as_sparse()).flatten().copied().collect();
        rows.sort_unstable();
        rows.dedup();
        RowSet::from_sorted(universe, rows)
    }

    /// The size of the union of several sets, without building it when that can be avoided.
    pub(crate) fn union_len(universe: usize, sets: &[&RowSet]) -> usize {
        match sets {
            [] => return 0,
            [one] => return one.len(),
            _ => {}
        }
        if sets.iter().any(|s| s.is_all()) {
            return universe;
        }
        let dense: Vec<&FixedBitSet> = sets.iter().filter_map(|s| s.as_dense()).collect();
        let sparse: Vec<&[u32]> = sets.iter().filter_map(|s| s.as_sparse()).collect();
        let (base_len, extra) = match dense.as_slice() {
            [] => (0, sparse.iter().flat_map(|rows| rows.iter()).copied().collect::<Vec<u32>>()),
            [one] => (sets.iter().find_map(|s| s.as_dense().map(|_| s.len())).unwrap_or(0), {
                sparse.iter().flat_map(|rows| rows.iter()).copied().filter(|&r| !one.contains(r as usize)).collect()
            }),
            [first, rest @ ..] => {
                let mut bits = (*first).clone();
                for other in rest {
                    bits.union_with(other);
                }
                let base_len = bits.count_ones(..);
                let extra = sparse
                    .iter()
                    .flat_map(|rows| rows.iter())
                    .copied()
                    .filter(|&r| !bits.contains(r as usize))
                    .collect();
                (base_len, extra)
            }
        };
        let mut extra = extra;
        if sparse.len() > 1 {
            extra.sort_unstable();
            extra.dedup();
        }
        base_len + extra.len()
    }
}

/// An iterator over a [`RowSet`]'s rows, in DataSet order.
#[derive(Clone)]
pub struct Rows<'a> {
    inner: RowsInner<'a>,
}

impl std::fmt::Debug for Rows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows").finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum RowsInner<'a> {
    Range(std::ops::Range<usize>),
    Sparse(std::slice::Iter<'a, u32>),
    Dense(fixedbitset::Ones<'a>),
}

impl Iterator for Rows<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match &mut self.inner {
            RowsInner::Range(range) => range.next(),
            RowsInner::Sparse(rows) => rows.next().map(|&r| r as usize),
            RowsInner::Dense(ones) => ones.next(),
        }
    }
}

impl<'a> IntoIterator for &'a RowSet {
    type Item = usize;
    type IntoIter = Rows<'a>;

    fn into_iter(self) -> Rows<'a> {
        self.iter()
    }
}
