//! PDP policies as an AST: a policy, its filters, their operators, and the policy type.

use serde::{Deserialize, Serialize};

use crate::ids::{GroupId, PolicyId, UserId};
use crate::string_enum::string_enum;

string_enum!(open
    /// A policy's `type`. People create `user` policies; the built-in All Rows
    /// policy is `open`; Domo's documentation also names `system`. Any other
    /// value is kept as it came.
    PolicyType {
        /// A policy a person created.
        User = "user",
        /// A system policy.
        System = "system",
        /// The built-in All Rows policy.
        Open = "open",
    }
);

#[expect(clippy::derivable_impls, reason = "the enum is declared by `string_enum!`, which takes no derives")]
impl Default for PolicyType {
    fn default() -> Self {
        Self::User
    }
}

string_enum!(strict
    /// A filter's operator. There is no NOT_EQUALS and no IN: `not` negates a
    /// filter, and several values on EQUALS mean "any of".
    FilterOperator, "operator" {
        /// The cell equals one of the values.
        Equals = "EQUALS",
        /// The cell matches one of the LIKE patterns (`%`, `_`, `\`).
        Like = "LIKE",
        /// The cell is greater than the value.
        GreaterThan = "GREATER_THAN",
        /// The cell is less than the value.
        LessThan = "LESS_THAN",
        /// The cell is greater than or equal to the value.
        GreaterThanEqual = "GREATER_THAN_EQUAL",
        /// The cell is less than or equal to the value.
        LessThanEqual = "LESS_THAN_EQUAL",
        /// The cell lies between the two values, both inclusive.
        Between = "BETWEEN",
        /// The cell's text starts with one of the values.
        BeginsWith = "BEGINS_WITH",
        /// The cell's text ends with one of the values.
        EndsWith = "ENDS_WITH",
        /// The cell's text contains one of the values.
        Contains = "CONTAINS",
    }
);

/// One filter of a policy: `column operator values`, optionally negated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PolicyFilter {
    /// The column the filter reads.
    pub column: String,
    /// The values, always strings on the wire; parsed by the column's type.
    pub values: Vec<String>,
    /// The comparison.
    pub operator: FilterOperator,
    /// Negates the filter for non-NULL cells. Defaults to `false`.
    #[serde(default)]
    pub not: bool,
}

/// A PDP policy. `id` is absent in a create request; everything else that is
/// left out defaults to empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// The policy's id, assigned by Domo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<PolicyId>,
    /// The policy's type; `user` when left out.
    #[serde(rename = "type", default)]
    pub policy_type: PolicyType,
    /// The policy's name.
    pub name: String,
    /// The filters, ANDed.
    #[serde(default)]
    pub filters: Vec<PolicyFilter>,
    /// Users the policy applies to.
    #[serde(default)]
    pub users: Vec<UserId>,
    /// Virtual users the policy applies to.
    #[serde(default)]
    pub virtual_users: Vec<String>,
    /// Groups whose members the policy applies to.
    #[serde(default)]
    pub groups: Vec<GroupId>,
}

impl Policy {
    /// Whether this is the built-in All Rows policy (type `open`).
    pub fn is_all_rows(&self) -> bool {
        self.policy_type == PolicyType::Open
    }

    /// The size Domo limits: the length of every value plus one separator per
    /// value. Domo requires it to stay under [`Policy::MAX_VALUES_LEN`].
    pub fn values_len(&self) -> usize {
        self.filters.iter().flat_map(|f| &f.values).map(|v| v.chars().count() + 1).sum()
    }

    /// Domo's limit on [`Policy::values_len`]: the sum must be under 255.
    pub const MAX_VALUES_LEN: usize = 255;
}
