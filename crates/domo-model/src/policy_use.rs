//! Shared policies: the `uses.json` file of a DataSet folder in an instance tree,
//! naming the shared policies the DataSet uses and how their columns are named there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One use of a shared policy by a DataSet: which shared policy, and the DataSet's
/// name for each column the shared policy's filters read where it differs.
///
/// ```json
/// [{"policy": "regional-emea", "columns": {"Region": "Sales Region"}}]
/// ```
///
/// `domo` expands a use into an ordinary policy of the DataSet (the shared
/// policy's name, members and filters, each filter's column renamed by
/// `columns`); this file is `domo`'s own, Domo has no shared policies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyUse {
    /// The shared policy: the stem of its file under the tree's `shared/` folder.
    pub policy: String,
    /// Column in the shared policy → column of this DataSet; a column not listed keeps its name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
}
