//! Row sets: every row, a sorted list of row numbers (sparse), or a bitmap (dense), whichever fits.

use std::sync::Arc;

use fixedbitset::FixedBitSet;

/// Above this share of the rows (1/32), a bitmap is smaller than a list of 32-bit row numbers.
const DENSE_SHARE: usize = 32;

/// Sparse and dense sets are shared (`Arc`): equal policies and posting lists cost their memory once.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    All,
    Sparse { rows: Arc<Vec<u32>>, start: usize, end: usize },
    Dense { bits: Arc<FixedBitSet>, len: usize },
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
        Self::sparse(universe, Vec::new())
    }

    fn sparse(universe: usize, rows: Vec<u32>) -> Self {
        let end = rows.len();
        Self { universe, repr: Repr::Sparse { rows: Arc::new(rows), start: 0, end } }
    }

    /// A slice of a shared sorted list (a posting list), without copying it.
    pub(crate) fn shared_slice(universe: usize, rows: Arc<Vec<u32>>, start: usize, end: usize) -> Self {
        if end.saturating_sub(start) == universe && universe > 0 {
            return Self::all(universe);
        }
        Self { universe, repr: Repr::Sparse { rows, start, end } }
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
            return Self { universe, repr: Repr::Dense { bits: Arc::new(bits), len } };
        }
        Self::sparse(universe, rows)
    }

    /// From a bitmap of `universe` bits; picks the smaller representation.
    pub(crate) fn from_bits(universe: usize, mut bits: FixedBitSet) -> Self {
        bits.grow(universe);
        let len = bits.count_ones(..);
        if len == universe {
            return Self::all(universe);
        }
        if len.saturating_mul(DENSE_SHARE) > universe {
            return Self { universe, repr: Repr::Dense { bits: Arc::new(bits), len } };
        }
        let rows = bits.ones().filter_map(|r| u32::try_from(r).ok()).collect();
        Self::sparse(universe, rows)
    }

    /// How many rows are in the set.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::All => self.universe,
            Repr::Sparse { start, end, .. } => end - start,
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
            Repr::Sparse { .. } => u32::try_from(row)
                .is_ok_and(|row| self.as_sparse().is_some_and(|rows| rows.binary_search(&row).is_ok())),
            Repr::Dense { bits, .. } => bits.contains(row),
        }
    }

    /// The rows, in DataSet order.
    pub fn iter(&self) -> Rows<'_> {
        Rows {
            inner: match &self.repr {
                Repr::All => RowsInner::Range(0..self.universe),
                Repr::Sparse { .. } => RowsInner::Sparse(self.as_sparse().unwrap_or_default().iter()),
                Repr::Dense { bits, .. } => RowsInner::Dense(bits.ones()),
            },
        }
    }

    /// Bytes of memory the set takes (roughly; shared storage is counted in full).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::All => 0,
            Repr::Sparse { start, end, .. } => (end - start) * 4,
            Repr::Dense { bits, .. } => bits.len().div_ceil(8),
        }
    }

    pub(crate) fn as_dense(&self) -> Option<&FixedBitSet> {
        match &self.repr {
            Repr::Dense { bits, .. } => Some(bits.as_ref()),
            _ => None,
        }
    }

    pub(crate) fn as_sparse(&self) -> Option<&[u32]> {
        match &self.repr {
            Repr::Sparse { rows, start, end } => rows.get(*start..*end),
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
        let sparse_len: usize = sets.iter().filter_map(|s| s.as_sparse()).map(<[u32]>::len).sum();
        let mut dense = sets.iter().filter_map(|s| s.as_dense());
        let first = dense.next();
        if first.is_some() || sparse_len.saturating_mul(DENSE_SHARE) > universe {
            let mut bits = first.cloned().unwrap_or_else(|| FixedBitSet::with_capacity(universe));
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

    /// The size of the union of several sets, without building it.
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
        let base = match dense.as_slice() {
            [] => 0,
            [_] => sets.iter().find(|s| s.as_dense().is_some()).map_or(0, |s| s.len()),
            [first, rest @ ..] => {
                // OR the bitmaps a chunk of words at a time in a stack buffer, and count.
                const CHUNK: usize = 256;
                let mut count = 0usize;
                let mut buffer = [0usize; CHUNK];
                for (index, words) in first.as_slice().chunks(CHUNK).enumerate() {
                    let buffer = buffer.get_mut(..words.len()).unwrap_or_default();
                    buffer.copy_from_slice(words);
                    let start = index * CHUNK;
                    for other in rest {
                        let others = other.as_slice().get(start..start + words.len()).unwrap_or_default();
                        for (word, other) in buffer.iter_mut().zip(others) {
                            *word |= other;
                        }
                    }
                    count += buffer.iter().map(|w| w.count_ones() as usize).sum::<usize>();
                }
                count
            }
        };
        let outside = |row: &u32| !dense.iter().any(|d| d.contains(*row as usize));
        let sparse_len: usize = sparse.iter().map(|rows| rows.len()).sum();
        let extra = match sparse.as_slice() {
            [] => 0,
            [one] => one.iter().filter(|r| outside(r)).count(),
            _ if sparse_len.saturating_mul(DENSE_SHARE) > universe => {
                let mut bits = FixedBitSet::with_capacity(universe);
                for &row in sparse.iter().flat_map(|rows| rows.iter()).filter(|r| outside(r)) {
                    bits.insert(row as usize);
                }
                bits.count_ones(..)
            }
            _ => {
                let mut rows: Vec<u32> = sparse.iter().flat_map(|rows| rows.iter()).copied().filter(outside).collect();
                rows.sort_unstable();
                rows.dedup();
                rows.len()
            }
        };
        base + extra
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
