//! `domo-pdp` embedded alone: previews the Euler party example (who sees how many rows, and why).

use std::error::Error;
use std::path::{Path, PathBuf};

use domo_model::{Dataset, Directory, Policy, UserId, read_user_file};
use domo_pdp::{HeaderRow, PolicySet, StreamOptions, Table};

fn main() {
    if let Err(err) = run() {
        eprintln!("error: {err}");
        let mut cause = err.source();
        while let Some(c) = cause {
            eprintln!("  caused by: {c}");
            cause = c.source();
        }
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let folder = std::env::args_os()
        .nth(1)
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../euler-party"), PathBuf::from);
    let read = |name: &str| {
        let path = folder.join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
    };
    let dataset: Dataset = serde_json::from_str(&read("dataset.json")?)?;
    let policies: Vec<Policy> = read_user_file("policies.json", &read("policies.json")?)?;
    let directory: Directory = read_user_file("directory.json", &read("directory.json")?)?;
    let csv = read("data.csv")?;

    let table = Table::from_csv(csv.as_bytes(), &dataset.schema, HeaderRow::Present)?;
    let set = PolicySet::compile(&dataset, &policies, &directory)?;
    let evaluation = set.evaluate(&table)?;
    println!("{}: {} rows, {} policies", dataset.name, table.row_count(), policies.len());
    for count in evaluation.visible_counts() {
        println!("user {}: {} rows ({:?})", count.user.0, count.rows, count.reason);
    }
    let guest = UserId(27);
    let mut out = Vec::new();
    set.write_visible_csv(guest, csv.as_bytes(), &mut out, StreamOptions::default())?;
    print!("rows user {} sees:\n{}", guest.0, String::from_utf8_lossy(&out));
    if evaluation.visible_counts().is_empty() {
        return Err("the preview found no users".into());
    }
    Ok(())
}
