//! `domo-http` embedded alone: creates a DataSet on a running `domo serve` and lists the DataSets there.

use std::error::Error;

use domo_http::{Client, Credentials};
use domo_model::{Column, ColumnType, DatasetCreate, ListDatasets, Schema, Scope};
use futures_util::StreamExt as _;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(err) = run().await {
        eprintln!("error: {err}");
        let mut cause = err.source();
        while let Some(c) = cause {
            eprintln!("  caused by: {c}");
            cause = c.source();
        }
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set `{name}`"));
    let credentials =
        Credentials::client_credentials(var("DOMO_CLIENT_ID")?, var("DOMO_CLIENT_SECRET")?, [Scope::Data]);
    let domo = Client::new(var("DOMO_BASE_URL")?, credentials)?;
    let created = domo
        .create_dataset(&DatasetCreate {
            name: "Leonhard Euler Party".to_owned(),
            description: Some("Mathematician Guest List".to_owned()),
            rows: Some(0),
            schema: Schema {
                columns: vec![Column::new(ColumnType::String, "Friend"), Column::new(ColumnType::String, "Attending")],
            },
        })
        .await?;
    let mut found = false;
    let mut list = std::pin::pin!(domo.list_datasets(&ListDatasets::default()));
    while let Some(dataset) = list.next().await {
        let dataset = dataset?;
        found |= dataset.id == created.id;
        println!("{}  {} ({} rows, {} columns)", dataset.id, dataset.name, dataset.rows, dataset.columns);
    }
    if !found {
        return Err(format!("the DataSet just created (`{}`) is not in the list", created.id).into());
    }
    Ok(())
}
