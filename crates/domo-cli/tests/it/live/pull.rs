//! `domo pull`: a pull that fails leaves nothing behind, and an earlier pull untouched; `--all` in `all`.

mod all;

use super::support::Live;

#[test]
fn a_failed_pull_leaves_no_folder_and_no_files() {
    let live = Live::start();
    let missing = "00000000-0000-0000-0000-000000000000";
    for dir in ["party", "deep/er/party"] {
        let path = live.path(dir);
        let run = live.run(&["pull", missing, path.to_str().unwrap()]);
        run.fails_with("DataSet not found");
        let top = live.path(dir.split('/').next().unwrap());
        assert!(!top.exists(), "`{}` was left behind:\n{}", top.display(), run.all());
    }

    // An existing folder stays, empty as it was.
    let empty = live.path("empty");
    std::fs::create_dir(&empty).unwrap();
    live.run(&["pull", missing, empty.to_str().unwrap()]).fails_with("DataSet not found");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "nothing written, no staging folder left");

    // An earlier pull is left whole by a failed `--force` pull.
    let id = live.euler_party();
    let party = live.path("party");
    live.ok(&["pull", &id, party.to_str().unwrap()]);
    let before: Vec<(String, Vec<u8>)> = files(&party);
    live.run(&["pull", missing, party.to_str().unwrap(), "--force"]).fails_with("DataSet not found");
    assert_eq!(files(&party), before);
}

fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}
