//! SQL queries against one DataSet.

use domo_model::{DatasetId, QueryRequest, QueryResponse};
use http::Method;

use crate::client::{Call, Client, Repeat};
use crate::datasets::dataset_path;
use crate::error::Error;

impl Client {
    /// `POST /v1/datasets/query/execute/{id}`: runs `sql` (the DataSet is
    /// called `table`). A query changes nothing, so it is retried like a GET.
    pub async fn query(&self, dataset: &DatasetId, sql: &str) -> Result<QueryResponse, Error> {
        let path =
            dataset_path(&Method::POST, dataset, "")?.replacen("/v1/datasets/", "/v1/datasets/query/execute/", 1);
        let mut call = Call::new(Method::POST, path).json_body(&QueryRequest { sql: sql.to_owned() })?;
        call.repeat = Repeat::Safe;
        self.json(call).await
    }
}
