"""Drives `domo serve` with the official Python SDK (pydomo) through its public API.

Usage: pydomo_check.py HOST ADMIN_ID ADMIN_SECRET VIEWER_ID VIEWER_SECRET DIRECTORY_JSON [--https]

HOST is `127.0.0.1:PORT` (pydomo adds the scheme). The admin client acts as an Admin
of the directory, the viewer client as user 27, a Participant whom PDP restricts.
With --https, pydomo speaks HTTPS and trusts the CA bundle in REQUESTS_CA_BUNDLE.
Each check prints one `ok:` line; the first failed check exits 1 with `FAILED:`.
"""

import json
import os
import sys
import tempfile

import pandas
from pydomo import Domo

VIEWER = 27


def check(condition, what, detail=""):
    if not condition:
        print(f"FAILED: {what}" + (f": {detail}" if detail else ""), flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def expect_error(call, needle, what):
    try:
        call()
    except Exception as err:  # pydomo raises bare Exception with the response text
        check(needle in str(err), what, str(err))
        return
    check(False, what, "no error was raised")


def rows_of(domo, dataset_id):
    """The DataSet's rows as the caller may see them, as dicts of strings."""
    return domo.ds_get_dict(dataset_id)


def main(argv):
    if len(argv) not in (6, 7):
        print(__doc__, file=sys.stderr)
        return 2
    host, admin_id, admin_secret, viewer_id, viewer_secret, directory_path = argv[:6]
    use_https = argv[6:] == ["--https"]
    with open(directory_path, encoding="utf-8") as f:
        directory = json.load(f)

    admin = Domo(admin_id, admin_secret, api_host=host, use_https=use_https, scope=["data", "user"])
    viewer = Domo(viewer_id, viewer_secret, api_host=host, use_https=use_https, scope=["data"])

    # Users and groups: the directory `domo serve` was started with.
    users = admin.users_list(df_output=False)
    check(
        sorted((u["id"], u["name"]) for u in users)
        == sorted((u["id"], u["name"]) for u in directory["users"]),
        "users_list lists the directory's users",
        str(users),
    )
    ada = admin.users_get(31)
    check(ada["name"] == "Ada Lovelace" and ada["email"] == "ada@example.com", "users_get(31)", str(ada))
    groups = admin.groups_list()
    check(
        sorted(zip(groups["id"], groups["name"])) == sorted((g["id"], g["name"]) for g in directory["groups"]),
        "groups_list lists the directory's groups",
        groups.to_string(),
    )
    for group in directory["groups"]:
        got = admin.groups_get(group["id"])
        check(got["name"] == group["name"], f"groups_get({group['id']})", str(got))
        members = admin.groups_list_users(group["id"])
        check(sorted(members) == sorted(group["userIds"]), f"groups_list_users({group['id']})", str(members))

    # Users and groups as code: the User and Group APIs' writes.
    user = admin.users_add("Sofia Kovalevskaya", "kovalevskaya@example.com", "Participant")
    check(isinstance(user["id"], int) and user["name"] == "Sofia Kovalevskaya", "users_add creates a user", str(user))
    changed = admin.users_update(user["id"], {"title": "Professor"})
    check(changed["title"] == "Professor" and changed["email"] == "kovalevskaya@example.com",
          "users_update changes only the fields given", str(changed))
    group = admin.groups_create("pydomo group", [user["id"]])
    check(isinstance(group["id"], int), "groups_create creates a group", str(group))
    members = admin.groups_list_users(group["id"])
    check(list(members) == [user["id"]], "groups_create adds its users with groups_add_users", str(members))
    admin.groups.update(group["id"], {"name": "pydomo group, renamed"})
    check(admin.groups_get(group["id"])["name"] == "pydomo group, renamed", "groups.update renames the group")
    admin.groups_delete(group["id"])
    expect_error(lambda: admin.groups_get(group["id"]), "404", "groups_delete removes the members and the group")
    admin.users_delete(user["id"])
    expect_error(lambda: admin.users_get(user["id"]), "404", "users_delete deletes the user")

    # DataSets: ds_create goes through a stream (create, search, execution, part, commit).
    party = pandas.DataFrame(
        {
            "Friend": ["Pythagoras", "Alan Turing", "George Boole", "Ada Lovelace"],
            "Attending": ["FALSE", "TRUE", "TRUE", "TRUE"],
            "Guests": [0, 2, 1, 3],
            "Share": [0.0, 2.5, 1.25, 3.0],
            "Arrived": pandas.to_datetime(["2024-06-01 18:00:00", "2024-06-01 18:30:00", "2024-06-01 19:05:00", "2024-06-01 20:00:00"]),
        }
    )
    # What pandas writes for each cell is what the export must give back, byte for byte.
    written = party.to_csv(header=False, index=False).splitlines()
    expected = [dict(zip(party.columns, line.split(","))) for line in written]
    dataset_id = admin.ds_create(party, "pydomo party", "made by pydomo")
    check(isinstance(dataset_id, str) and len(dataset_id) == 36, "ds_create returns a DataSet id", str(dataset_id))
    meta = admin.ds_meta(dataset_id)
    check(
        meta["name"] == "pydomo party" and meta["rows"] == 4 and meta["pdpEnabled"] is False,
        "ds_meta shows the new DataSet with 4 rows and PDP off",
        str(meta),
    )
    check(
        [(c["name"], c["type"]) for c in meta["schema"]["columns"]]
        == [("Friend", "STRING"), ("Attending", "STRING"), ("Guests", "LONG"), ("Share", "DOUBLE"), ("Arrived", "DATETIME")],
        "ds_create's schema follows the DataFrame's dtypes",
        str(meta["schema"]),
    )
    check(rows_of(admin, dataset_id) == expected, "ds_get_dict reads back the rows ds_create wrote")
    frame = admin.ds_get(dataset_id)
    check(
        list(frame.columns) == list(party.columns)
        and list(frame["Guests"]) == [0, 2, 1, 3]
        and list(frame["Share"]) == [0.0, 2.5, 1.25, 3.0]
        and list(frame["Arrived"]) == list(party["Arrived"]),
        "ds_get reads the rows back into a DataFrame typed by the schema",
        frame.to_string(),
    )
    listed = admin.ds_list(df_output=False, name_like="pydomo")
    check([d["id"] for d in listed] == [dataset_id], "ds_list(name_like=…) finds the DataSet", str(listed))

    # Plain import: REPLACE then APPEND, header-less CSV as pydomo sends it.
    admin.datasets.data_import(dataset_id, "Blaise Pascal,FALSE,0,0.5,2024-06-01 21:00:00\n", "REPLACE")
    check(
        rows_of(admin, dataset_id)
        == [{"Friend": "Blaise Pascal", "Attending": "FALSE", "Guests": "0", "Share": "0.5", "Arrived": "2024-06-01 21:00:00"}],
        "datasets.data_import REPLACE replaces the rows",
    )
    admin.datasets.data_import(dataset_id, "Brook Taylor,TRUE,1,,\n", "APPEND")
    check(len(rows_of(admin, dataset_id)) == 2, "datasets.data_import APPEND adds a row")
    expect_error(
        lambda: admin.datasets.data_import(dataset_id, "Too,Many,1,1.0,2024-06-01,Columns\n", "REPLACE"),
        "too many columns",
        "datasets.data_import refuses a row that does not fit the schema",
    )
    # ds_update: a new stream execution on the DataSet's stream, found with streams/search.
    admin.ds_update(dataset_id, party)
    check(rows_of(admin, dataset_id) == expected, "ds_update replaces the rows through the DataSet's stream")
    updated = admin.datasets.update(dataset_id, {"description": "changed by pydomo"})
    check(updated["description"] == "changed by pydomo", "datasets.update changes the description", str(updated))

    # PDP: a policy for the viewer, PDP on; the viewer's export shows only the admitted rows.
    policy = admin.pdp_create(
        dataset_id,
        {
            "name": "Only Show Attendees",
            "type": "user",
            "filters": [{"column": "Attending", "values": ["TRUE"], "operator": "EQUALS", "not": False}],
            "users": [VIEWER],
            "groups": [],
        },
    )
    check(isinstance(policy["id"], int) and policy["users"] == [VIEWER], "pdp_create returns the policy", str(policy))
    policies = admin.pdp_list(dataset_id, df_output=False)
    check(
        sorted(p["name"] for p in policies) == ["All Rows", "Only Show Attendees"],
        "pdp_list lists All Rows and the new policy",
        str(policies),
    )
    check(rows_of(viewer, dataset_id) == expected, "with PDP off the viewer sees every row")
    admin.datasets.update(dataset_id, {"pdpEnabled": True})
    attendees = [r for r in expected if r["Attending"] == "TRUE"]
    check(rows_of(viewer, dataset_id) == attendees, "with PDP on the viewer sees only the attendees")
    check(rows_of(admin, dataset_id) == expected, "the Admin still sees every row")
    changed = admin.pdp_update(
        dataset_id,
        policy["id"],
        {"filters": [{"column": "Guests", "values": ["2"], "operator": "GREATER_THAN_EQUAL", "not": False}]},
    )
    check(changed["name"] == "Only Show Attendees", "pdp_update keeps the fields it was not given", str(changed))
    check(
        [r["Friend"] for r in rows_of(viewer, dataset_id)] == ["Alan Turing", "Ada Lovelace"],
        "after pdp_update the viewer sees the rows with 2 or more guests",
    )
    # ds_query: SQL over the rows the caller may see. pydomo wraps the text in {"sql": …} itself
    # (its docstring's example passes a dict, which Domo would refuse too).
    sql = "SELECT COUNT(*) AS n FROM table"
    check(int(admin.ds_query(dataset_id, sql)["n"][0]) == len(expected), "ds_query counts every row for the Admin")
    check(int(viewer.ds_query(dataset_id, sql)["n"][0]) == 2, "ds_query counts only the viewer's rows under PDP")
    expect_error(
        lambda: admin.pdp_create(
            dataset_id,
            {"name": "Typo", "filters": [{"column": "Atending", "values": ["TRUE"], "operator": "EQUALS"}],
             "users": [VIEWER]},
        ),
        "Atending",
        "pdp_create refuses a policy on a column the DataSet lacks",
    )
    admin.pdp_delete(dataset_id, policy["id"])
    check(rows_of(viewer, dataset_id) == [], "after pdp_delete the viewer is in no policy and sees no rows")

    # Streams through StreamClient.
    streams = admin.streams
    stream = streams.create(
        {
            "dataSet": {
                "name": "pydomo stream",
                "schema": {"columns": [{"type": "STRING", "name": "Friend"}, {"type": "LONG", "name": "Guests"}]},
            },
            "updateMethod": "APPEND",
        }
    )
    stream_id, stream_ds = stream["id"], stream["dataSet"]["id"]
    check(streams.get(stream_id)["dataSet"]["id"] == stream_ds, "streams.get returns the stream and its DataSet")
    check(stream_id in [s["id"] for s in streams.list(50, 0)], "streams.list lists the stream")
    found = streams.search(f"dataSource.id:{stream_ds}")
    check([s["id"] for s in found] == [stream_id], "streams.search(dataSource.id:…) finds it", str(found))
    owner = stream["dataSet"]["owner"]["id"]
    found = streams.search(f"dataSource.owner.id:{owner}")
    check(stream_id in [s["id"] for s in found], "streams.search(dataSource.owner.id:…) finds it", str(found))
    execution = streams.create_execution(stream_id)
    check(execution["currentState"] == "ACTIVE", "streams.create_execution starts an ACTIVE execution", str(execution))
    streams.upload_part(stream_id, execution["id"], 1, "Alan Turing,2\nGeorge Boole,1\n")
    with tempfile.TemporaryDirectory() as temp:
        part = os.path.join(temp, "part2.csv")
        with open(part, "w", encoding="utf-8") as f:
            f.write("Ada Lovelace,3\n")
        # pydomo gzips the file and sends it with `Content-Encoding: gzip`.
        streams.upload_gzip_part_from_file(stream_id, execution["id"], 2, part, False, 1 << 16)
    committed = streams.commit_execution(stream_id, execution["id"])
    check(committed["currentState"] == "SUCCESS", "streams.commit_execution commits", str(committed))
    check(
        [r["Friend"] for r in rows_of(admin, stream_ds)] == ["Alan Turing", "George Boole", "Ada Lovelace"],
        "the committed parts (one gzip) are the DataSet's rows, in part order",
    )
    check(streams.get_execution(stream_id, execution["id"])["currentState"] == "SUCCESS", "streams.get_execution")
    check(len(streams.list_executions(stream_id, 50, 0)) == 1, "streams.list_executions")
    updated = streams.update(stream_id, {"updateMethod": "REPLACE"})
    check(updated["updateMethod"] == "REPLACE", "streams.update changes the update method", str(updated))
    aborted = streams.create_execution(stream_id)
    streams.upload_part(stream_id, aborted["id"], 1, "Nobody,0\n")
    done = streams.abort_execution(stream_id, aborted["id"])
    check(done["currentState"] == "ABORTED", "streams.abort_execution aborts", str(done))
    current = streams.create_execution(stream_id)
    streams.upload_part(stream_id, current["id"], 1, "Nobody,0\n")
    check(streams.abort_current_execution(stream_id) is None, "streams.abort_current_execution answers 204")
    check(streams.get_execution(stream_id, current["id"])["currentState"] == "ABORTED",
          "abort_current_execution aborted the active execution")
    check(len(rows_of(admin, stream_ds)) == 3, "aborted executions leave the rows alone")
    streams.delete(stream_id)
    expect_error(lambda: streams.get(stream_id), "404", "streams.delete deletes the stream")

    # Deleting DataSets.
    for dataset in (dataset_id, stream_ds):
        admin.ds_delete(dataset, prompt_before_delete=False)
    check(admin.ds_list(df_output=False, name_like="pydomo") == [], "ds_delete deletes the DataSets")

    print("pydomo: every check passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
