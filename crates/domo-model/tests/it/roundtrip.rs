//! Property: any policy and any DataSet survive a JSON round-trip unchanged.

use domo_model::{
    Column, ColumnType, Dataset, DatasetId, FilterOperator, GroupId, Owner, Policy, PolicyFilter, PolicyId, PolicyType,
    Schema, Timestamp, UserId,
};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9 _%\\\\.-]{0,12}", any::<String>().prop_map(|s| s.chars().take(12).collect()),]
}

fn operator() -> impl Strategy<Value = FilterOperator> {
    prop::sample::select(FilterOperator::ALL)
}

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop::sample::select(ColumnType::ALL)
}

fn policy_type() -> impl Strategy<Value = PolicyType> {
    prop_oneof![
        Just(PolicyType::User),
        Just(PolicyType::System),
        Just(PolicyType::Open),
        "[a-z]{1,8}".prop_map(|s| PolicyType::from(s.as_str())),
    ]
}

fn filter() -> impl Strategy<Value = PolicyFilter> {
    (text(), prop::collection::vec(text(), 0..4), operator(), any::<bool>())
        .prop_map(|(column, values, operator, not)| PolicyFilter { column, values, operator, not })
}

prop_compose! {
    fn policy()(
        id in prop::option::of(any::<u64>().prop_map(PolicyId)),
        policy_type in policy_type(),
        name in text(),
        filters in prop::collection::vec(filter(), 0..4),
        users in prop::collection::vec(any::<u64>().prop_map(UserId), 0..4),
        virtual_users in prop::collection::vec(text(), 0..3),
        groups in prop::collection::vec(any::<u64>().prop_map(GroupId), 0..4),
    ) -> Policy {
        Policy { id, policy_type, name, filters, users, virtual_users, groups }
    }
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0i64..4_102_444_800, 0i32..1000).prop_map(|(s, ms)| Timestamp::new(s, ms * 1_000_000).unwrap())
}

prop_compose! {
    fn dataset()(
        id in "[0-9a-f-]{36}",
        name in text(),
        description in prop::option::of(text()),
        rows in any::<u64>(),
        columns in prop::collection::vec((column_type(), text()), 0..6),
        owner in prop::option::of((any::<u64>(), prop::option::of(text()))),
        created_at in prop::option::of(timestamp()),
        updated_at in prop::option::of(timestamp()),
        data_current_at in prop::option::of(timestamp()),
        pdp_enabled in any::<bool>(),
        policies in prop::option::of(prop::collection::vec(policy(), 0..3)),
    ) -> Dataset {
        let column_count = columns.len() as u64;
        Dataset {
            id: DatasetId(id),
            name,
            description,
            rows,
            columns: column_count,
            schema: Schema { columns: columns.into_iter().map(|(t, n)| Column::new(t, n)).collect() },
            owner: owner.map(|(id, name)| Owner { id: UserId(id), name }),
            created_at,
            updated_at,
            data_current_at,
            pdp_enabled,
            policies,
        }
    }
}

proptest! {
    #[test]
    fn policy_survives_json(policy in policy()) {
        let json = serde_json::to_string(&policy).unwrap();
        prop_assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), policy.clone());
        // A file a person writes holds the same JSON: the strict reader agrees.
        prop_assert_eq!(domo_model::read_user_file::<Policy>("p.json", &json).unwrap(), policy);
    }

    #[test]
    fn dataset_survives_json(dataset in dataset()) {
        let json = serde_json::to_string(&dataset).unwrap();
        prop_assert_eq!(serde_json::from_str::<Dataset>(&json).unwrap(), dataset);
    }
}
