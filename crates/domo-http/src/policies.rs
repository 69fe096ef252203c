//! PDP policies of a DataSet: list, get, create, update, delete.

use domo_model::{DatasetId, Policy, PolicyId};
use http::Method;

use crate::client::{Call, Client};
use crate::datasets::dataset_path;
use crate::error::Error;

impl Client {
    /// `GET /v1/datasets/{id}/policies`: every policy, the built-in All Rows one included.
    pub async fn list_policies(&self, dataset: &DatasetId) -> Result<Vec<Policy>, Error> {
        let path = dataset_path(&Method::GET, dataset, "/policies")?;
        self.json(Call::new(Method::GET, path)).await
    }

    /// `GET /v1/datasets/{id}/policies/{pdp_id}`.
    pub async fn get_policy(&self, dataset: &DatasetId, policy: PolicyId) -> Result<Policy, Error> {
        let path = dataset_path(&Method::GET, dataset, &format!("/policies/{policy}"))?;
        self.json(Call::new(Method::GET, path)).await
    }

    /// `POST /v1/datasets/{id}/policies`: creates a policy (its `id` is
    /// ignored). The users and groups it names must exist.
    pub async fn create_policy(&self, dataset: &DatasetId, policy: &Policy) -> Result<Policy, Error> {
        let path = dataset_path(&Method::POST, dataset, "/policies")?;
        let body = Policy { id: None, ..policy.clone() };
        self.json(Call::new(Method::POST, path).json_body(&body)?).await
    }

    /// `PUT /v1/datasets/{id}/policies/{pdp_id}`: replaces the policy's fields
    /// with `policy`'s.
    pub async fn update_policy(&self, dataset: &DatasetId, id: PolicyId, policy: &Policy) -> Result<Policy, Error> {
        let path = dataset_path(&Method::PUT, dataset, &format!("/policies/{id}"))?;
        self.json(Call::new(Method::PUT, path).json_body(policy)?).await
    }

    /// `DELETE /v1/datasets/{id}/policies/{pdp_id}`. Deleting the last policy
    /// turns PDP off.
    pub async fn delete_policy(&self, dataset: &DatasetId, id: PolicyId) -> Result<(), Error> {
        let path = dataset_path(&Method::DELETE, dataset, &format!("/policies/{id}"))?;
        self.no_content(Call::new(Method::DELETE, path)).await
    }
}
