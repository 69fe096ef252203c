//! The diff of two policy sets: over a whole table, accumulated over batches (forked and merged), and row by row by the reference all agree.

use domo_model::{Column, ColumnType, Dataset, Directory, GroupId, Policy, Role, Schema, User, UserId};
use std::num::NonZeroUsize;

use domo_pdp::{
    BatchOptions, ChangedRows, DiffAccumulator, DiffOptions, HeaderRow, PolicyDiff, PolicySet, Reason, Table, Threads,
    diff_policies_with,
};
use proptest::prelude::*;

use crate::agreement::{Case, case_with_rows, to_csv};
use crate::reference::Reference;

/// One change to a policy, chosen at random for each policy of the old set.
fn mutate(policy: &Policy, op: u8, out: &mut Vec<Policy>) {
    let mut changed = policy.clone();
    match op % 10 {
        0..=2 => {}
        3 => return,
        4 => {
            if let Some(first) = changed.filters.first_mut() {
                first.not = !first.not;
            }
        }
        5 => {
            changed.filters.pop();
        }
        6 => changed.users.push(UserId(u64::from(op % 9) + 1)),
        7 => changed.groups.clear(),
        8 => changed.virtual_users.push(if op < 128 { "v1" } else { "v2" }.to_owned()),
        _ => {
            // The same filters given to someone else as a new policy.
            let mut copy = policy.clone();
            copy.id = None;
            copy.name = format!("{} copy", policy.name);
            copy.users = vec![UserId(u64::from(op % 9) + 1)];
            copy.groups = vec![GroupId(u64::from(op % 3) + 1)];
            out.push(copy);
        }
    }
    out.push(changed);
}

/// What a principal sees under one side's policies, row by row from the wire types.
fn reference_rows(case: &Case, policies: &[Policy], who: &Who) -> Vec<usize> {
    let reference = Reference { dataset: &case.dataset, policies, directory: &case.directory, rows: &case.rows };
    match who {
        Who::User(user) => reference.visible_rows(*user),
        Who::Virtual(name) => {
            let disabled = !case.dataset.pdp_enabled || policies.is_empty();
            (0..case.rows.len())
                .filter(|&row| {
                    disabled
                        || policies.iter().any(|p| p.virtual_users.contains(name) && reference.policy_admits(p, row))
                })
                .collect()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    User(UserId),
    Virtual(String),
}

/// One principal's change as the comparison sees it: who, before, after, gained, lost.
type Line = (Who, usize, usize, ChangedRows, ChangedRows);

fn lines(diff: &PolicyDiff) -> Vec<Line> {
    diff.users
        .iter()
        .map(|u| (Who::User(u.user), u.old_visible, u.new_visible, u.gained.clone(), u.lost.clone()))
        .chain(
            diff.virtual_users.iter().map(|v| {
                (Who::Virtual(v.name.clone()), v.old_visible, v.new_visible, v.gained.clone(), v.lost.clone())
            }),
        )
        .collect()
}

/// The naive diff: every principal, every row, both sides.
fn reference_diff(case: &Case, old: &[Policy], new: &[Policy], examples: usize) -> Vec<Line> {
    let known: Vec<UserId> = case.directory.users.iter().map(|u| u.id).collect();
    let mut beyond: Vec<UserId> = old
        .iter()
        .chain(new)
        .flat_map(|p| p.users.iter().copied())
        .chain(case.directory.groups.iter().flat_map(|g| g.user_ids.iter().copied()))
        .filter(|u| !known.contains(u))
        .collect();
    beyond.sort_unstable();
    beyond.dedup();
    let mut virtuals: Vec<String> = old.iter().chain(new).flat_map(|p| p.virtual_users.iter().cloned()).collect();
    virtuals.sort_unstable();
    virtuals.dedup();
    let principals = known.into_iter().chain(beyond).map(Who::User).chain(virtuals.into_iter().map(Who::Virtual));
    let changed =
        |rows: Vec<usize>| ChangedRows { count: rows.len(), first: rows.into_iter().take(examples).collect() };
    principals
        .filter_map(|who| {
            let before = reference_rows(case, old, &who);
            let after = reference_rows(case, new, &who);
            let gained: Vec<usize> = after.iter().copied().filter(|r| !before.contains(r)).collect();
            let lost: Vec<usize> = before.iter().copied().filter(|r| !after.contains(r)).collect();
            (!gained.is_empty() || !lost.is_empty())
                .then(|| (who, before.len(), after.len(), changed(gained), changed(lost)))
        })
        .collect()
}

/// The rows of `case` from `start` to `end` as a table of their own, loaded from CSV with a header.
fn batch(case: &Case, start: usize, end: usize) -> Table {
    let piece = Case { rows: case.rows[start..end].to_vec(), ..case.clone() };
    let csv = to_csv(&piece, HeaderRow::Present);
    Table::from_csv(csv.as_bytes(), &case.dataset.schema, HeaderRow::Present).unwrap()
}

/// How the CSV is read by [`DiffAccumulator::add_csv`]: at most this many rows a batch, on this many threads.
struct Reading {
    batch_rows: usize,
    threads: usize,
}

fn check(case: &Case, ops: &[u8], cuts: &[usize], examples: usize, reading: &Reading) {
    let mut new_policies = Vec::new();
    for (policy, op) in case.policies.iter().zip(ops.iter().cycle()) {
        mutate(policy, *op, &mut new_policies);
    }
    let compile = |policies: &[Policy]| PolicySet::compile(&case.dataset, policies, &case.directory).unwrap();
    let (old, new) = (compile(&case.policies), compile(&new_policies));
    let options = DiffOptions { example_rows: examples };

    let table = batch(case, 0, case.rows.len());
    let whole = diff_policies_with(&old.evaluate(&table).unwrap(), &new.evaluate(&table).unwrap(), options);
    let expected = reference_diff(case, &case.policies, &new_policies, examples);
    assert_eq!(lines(&whole), expected, "whole table against the reference");
    for user in &whole.users {
        let reference =
            |policies| Reference { dataset: &case.dataset, policies, directory: &case.directory, rows: &case.rows };
        assert_eq!(
            (user.old_reason, user.new_reason),
            (reference(&case.policies).reason(user.user), reference(&new_policies).reason(user.user)),
            "user {}",
            user.user
        );
    }

    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (case.rows.len() + 1)).collect();
    bounds.extend([0, case.rows.len()]);
    bounds.sort_unstable();
    let batches: Vec<Table> = bounds.windows(2).map(|w| batch(case, w[0], w[1])).collect();

    // One accumulator fed every batch in order, the example rows of each batch read right after it.
    let mut streamed = DiffAccumulator::new(&old, &new, options);
    let mut seen_examples = Vec::new();
    for b in &batches {
        let start = streamed.rows();
        streamed.add_batch(b).unwrap();
        let rows = streamed.example_rows_from(start);
        assert!(rows.iter().all(|&row| row >= start && row < start + b.row_count()), "{rows:?} outside the batch");
        seen_examples.extend(rows);
    }
    assert_eq!(streamed.rows(), case.rows.len());
    let mut examples: Vec<usize> = whole
        .users
        .iter()
        .flat_map(|u| u.gained.first.iter().chain(&u.lost.first))
        .chain(whole.virtual_users.iter().flat_map(|v| v.gained.first.iter().chain(&v.lost.first)))
        .copied()
        .collect();
    examples.sort_unstable();
    examples.dedup();
    assert_eq!(seen_examples, examples, "each example row is read while its batch is at hand");
    assert_eq!(streamed.finish(), whole, "batches {bounds:?}");

    // Every batch in its own fork, merged in order as a parallel reader would.
    let mut first = DiffAccumulator::new(&old, &new, options);
    let forks: Vec<DiffAccumulator<'_>> = batches
        .iter()
        .map(|b| {
            let mut fork = first.fork();
            fork.add_batch(b).unwrap();
            fork
        })
        .collect();
    // Merged pairwise from the right, then into the first: merging is associative.
    let merged = forks.into_iter().rev().reduce(|later, mut earlier| {
        earlier.merge(later).unwrap();
        earlier
    });
    if let Some(merged) = merged {
        first.merge(merged).unwrap();
    }
    assert_eq!(first.finish(), whole, "forks of batches {bounds:?}");

    // Read from the CSV, each batch evaluated and counted on a worker thread, appended in order.
    let mut from_csv = DiffAccumulator::new(&old, &new, options);
    let csv = to_csv(case, HeaderRow::Present);
    let reading_options = BatchOptions {
        batch_rows: reading.batch_rows,
        threads: Threads::Exactly(NonZeroUsize::new(reading.threads).unwrap_or(NonZeroUsize::MIN)),
        ..BatchOptions::default()
    };
    assert_eq!(from_csv.add_csv(csv.as_bytes(), reading_options).unwrap(), case.rows.len() as u64);
    assert_eq!(
        from_csv.finish(),
        whole,
        "from CSV in batches of {} rows on {} threads",
        reading.batch_rows,
        reading.threads
    );

    // Keeping the example rows' text: each batch offers its candidates while at hand, and the rows
    // taken after each batch are exactly the examples it holds.
    let mut keeping = DiffAccumulator::new(&old, &new, options);
    let mut taken: Vec<usize> = Vec::new();
    let rows = keeping
        .add_csv_keeping(
            csv.as_bytes(),
            reading_options,
            |batch, rows| rows.iter().map(|&row| (row, batch.value(row, 0).map(|v| v.to_string()))).collect::<Vec<_>>(),
            |first, kept, candidates| {
                for row in kept {
                    assert!(candidates.iter().any(|(r, _)| first + r == *row), "{row} was not offered");
                }
                taken.extend(kept);
            },
        )
        .unwrap();
    assert_eq!(rows, case.rows.len() as u64);
    assert_eq!(taken, examples, "the rows taken are the examples");
    assert_eq!(keeping.finish(), whole, "keeping the examples' text");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn whole_batched_and_reference_diffs_agree(
        case in case_with_rows(0..40, 0..4),
        ops in prop::collection::vec(any::<u8>(), 1..8),
        cuts in prop::collection::vec(any::<usize>(), 0..5),
        examples in 0usize..4,
        batch_rows in 1usize..9,
        threads in 1usize..4,
    ) {
        check(&case, &ops, &cuts, examples, &Reading { batch_rows, threads });
    }
}

fn region_schema() -> Schema {
    Schema { columns: vec![Column::new(ColumnType::String, "Region")] }
}

fn region_case() -> (Dataset, Directory, Vec<Policy>) {
    let dataset: Dataset = serde_json::from_value(serde_json::json!({
        "id": "d", "name": "n", "pdpEnabled": true,
        "schema": {"columns": [{"type": "STRING", "name": "Region"}]}
    }))
    .unwrap();
    let directory =
        Directory { users: vec![User::new(UserId(7), "Ada", Role::Participant)], groups: vec![], roles: vec![] };
    let policies: Vec<Policy> = serde_json::from_value(serde_json::json!([{"id": 1, "name": "east", "users": [7],
        "filters": [{"column": "Region", "operator": "EQUALS", "values": ["East"]}]}]))
    .unwrap();
    (dataset, directory, policies)
}

/// Policy sets compiled against different schemas are refused before any row is read; a cell a
/// changed policy reads that does not parse is refused with its row.
#[test]
fn a_csv_diff_refuses_mismatched_sets_and_bad_cells() {
    let (dataset, directory, policies) = region_case();
    let set = PolicySet::compile(&dataset, &policies, &directory).unwrap();
    let mut long_dataset = dataset.clone();
    long_dataset.schema = Schema { columns: vec![Column::new(ColumnType::Long, "Region")] };
    let other = PolicySet::compile(&long_dataset, &[], &directory).unwrap();
    let mut diff = DiffAccumulator::new(&other, &set, DiffOptions::default());
    let error = diff.add_csv("East\n".as_bytes(), BatchOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the table's schema does not match the DataSet's: column 1 is `Region` STRING in the table, `Region` LONG in the DataSet"
    );
    assert_eq!(diff.rows(), 0);

    let mut numbers = long_dataset.clone();
    numbers.schema.columns.push(Column::new(ColumnType::String, "Name"));
    let narrow: Vec<Policy> = serde_json::from_value(serde_json::json!([{"id": 1, "name": "small", "users": [7],
        "filters": [{"column": "Region", "operator": "LESS_THAN", "values": ["5"]}]}]))
    .unwrap();
    let before = PolicySet::compile(&numbers, &[], &directory).unwrap();
    let after = PolicySet::compile(&numbers, &narrow, &directory).unwrap();
    let mut diff = DiffAccumulator::new(&before, &after, DiffOptions::default());
    let csv = "Region,Name\n1,a\n2,b\nx,c\n";
    let options = BatchOptions { header: HeaderRow::Present, batch_rows: 1, ..BatchOptions::default() };
    let error = diff.add_csv(csv.as_bytes(), options).unwrap_err();
    let expected = Table::from_csv(csv.as_bytes(), &numbers.schema, HeaderRow::Present).unwrap_err();
    assert_eq!(error.to_string(), expected.to_string());
    assert!(error.to_string().contains("`x`"), "{error}");
}

#[test]
fn a_batch_of_another_schema_is_refused_and_nothing_counts() {
    let (dataset, directory, policies) = region_case();
    let set = PolicySet::compile(&dataset, &policies, &directory).unwrap();
    let open = PolicySet::compile(&dataset, &[], &directory).unwrap();
    let mut diff = DiffAccumulator::new(&set, &open, DiffOptions::default());
    let schema = Schema { columns: vec![Column::new(ColumnType::Long, "Region")] };
    let wrong = Table::from_csv("1\n2\n".as_bytes(), &schema, HeaderRow::Absent).unwrap();
    let error = diff.add_batch(&wrong).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the table's schema does not match the DataSet's: column 1 is `Region` LONG in the table, `Region` STRING in the DataSet"
    );
    assert_eq!(diff.rows(), 0);
    let east = Table::from_csv("East\nWest\n".as_bytes(), &region_schema(), HeaderRow::Absent).unwrap();
    diff.add_batch(&east).unwrap();
    let diff = diff.finish();
    // No policy on the new side turns PDP off: user 7 gains West, row 1 (0-based) of the good batch only.
    assert_eq!(diff.users.len(), 1);
    assert_eq!((diff.users[0].new_reason, diff.users[0].gained.first.as_slice()), (Reason::PdpDisabled, &[1][..]));
}

#[test]
fn merging_a_diff_of_other_policies_is_refused() {
    let (dataset, directory, policies) = region_case();
    let set = PolicySet::compile(&dataset, &policies, &directory).unwrap();
    let open = PolicySet::compile(&dataset, &[], &directory).unwrap();
    let mut diff = DiffAccumulator::new(&set, &open, DiffOptions::default());
    let mut other = DiffAccumulator::new(&set, &open, DiffOptions::default());
    let east = Table::from_csv("East\nWest\n".as_bytes(), &region_schema(), HeaderRow::Absent).unwrap();
    other.add_batch(&east).unwrap();
    let error = diff.merge(other).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot merge diffs of different policy sets: merge only an accumulator made by `fork` of this one"
    );
    assert_eq!(diff.rows(), 0);
    assert!(diff.finish().users.is_empty());
}

#[test]
fn examples_are_the_first_rows_and_counts_are_all_of_them() {
    let (dataset, directory, policies) = region_case();
    let set = PolicySet::compile(&dataset, &policies, &directory).unwrap();
    let open = PolicySet::compile(&dataset, &[], &directory).unwrap();
    let mut diff = DiffAccumulator::new(&set, &open, DiffOptions { example_rows: 3 });
    // 200 rows a batch: West everywhere but every tenth row; user 7 gains every West row.
    for _ in 0..3 {
        let csv: String = (0..200).map(|i| if i % 10 == 0 { "East\n" } else { "West\n" }).collect();
        diff.add_batch(&Table::from_csv(csv.as_bytes(), &region_schema(), HeaderRow::Absent).unwrap()).unwrap();
    }
    let diff = diff.finish();
    let user = &diff.users[0];
    assert_eq!((user.old_visible, user.new_visible, user.gained.count, user.lost.count), (60, 600, 540, 0));
    assert_eq!(user.gained.first, [1, 2, 3]);
}
