// Drives `domo serve --tls` with the official Node SDK (npm `domo-sdk`) through its public API.
//
// Usage: node domo_sdk_check.js HOST ADMIN_ID ADMIN_SECRET VIEWER_ID VIEWER_SECRET DIRECTORY_JSON
//
// HOST is `127.0.0.1:PORT`; the SDK speaks HTTPS only, so the emulator runs with
// --tls and NODE_EXTRA_CA_CERTS names its certificate. NODE_PATH must hold the
// folder that has `domo-sdk` (cargo xtask provision installs it under target/ci-node).
// The admin client acts as an Admin of the directory, the viewer client as user 27,
// a Participant whom PDP restricts. Each check prints one `ok:` line; the first
// failed check exits 1 with `FAILED:`.
'use strict';

const fs = require('fs');
const zlib = require('zlib');
const { DomoClient } = require('domo-sdk');
const { API_SCOPE } = require('domo-sdk/dist/common/Constants');

const VIEWER = 27;

function check(condition, what, detail) {
  if (!condition) {
    console.log(`FAILED: ${what}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

async function expectError(call, status, what) {
  try {
    await call();
  } catch (err) {
    const got = err && err.error && err.error.statusCode;
    check(got === status, what, `${err && err.message} (status ${got})`);
    return;
  }
  check(false, what, 'no error was raised');
}

const sorted = (pairs) => pairs.map((p) => JSON.stringify(p)).sort();
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function main(argv) {
  if (argv.length !== 6) {
    console.error('usage: node domo_sdk_check.js HOST ADMIN_ID ADMIN_SECRET VIEWER_ID VIEWER_SECRET DIRECTORY_JSON');
    return 2;
  }
  const [host, adminId, adminSecret, viewerId, viewerSecret, directoryPath] = argv;
  const directory = JSON.parse(fs.readFileSync(directoryPath, 'utf8'));
  const admin = new DomoClient(adminId, adminSecret, [API_SCOPE.USER, API_SCOPE.DATA], host);
  const viewer = new DomoClient(viewerId, viewerSecret, [API_SCOPE.DATA], host);

  // Users and groups. The SDK's first call goes out without a token; the 401 makes it ask for one.
  const users = await admin.users.list(500, 0);
  check(same(sorted(users.map((u) => [u.id, u.name])), sorted(directory.users.map((u) => [u.id, u.name]))),
    'users.list lists the directory\'s users', users);
  const ada = await admin.users.get('31');
  check(ada.name === 'Ada Lovelace' && ada.email === 'ada@example.com', 'users.get(31)', ada);
  const groups = await admin.groups.list(500, 0);
  check(same(sorted(groups.map((g) => [g.id, g.name])), sorted(directory.groups.map((g) => [g.id, g.name]))),
    'groups.list lists the directory\'s groups', groups);
  for (const group of directory.groups) {
    const got = await admin.groups.get(String(group.id));
    check(got.name === group.name, `groups.get(${group.id})`, got);
    const members = await admin.groups.listUsers(String(group.id), 500, 0);
    check(same([...members].sort(), [...group.userIds].sort()), `groups.listUsers(${group.id})`, members);
  }

  // DataSets: create, import, export, get, list, update.
  const columns = [{ type: 'STRING', name: 'Friend' }, { type: 'STRING', name: 'Attending' }, { type: 'LONG', name: 'Guests' }];
  const created = await admin.datasets.create({ name: 'domo-sdk party', description: 'made by the Node SDK', schema: { columns } });
  const datasetId = created.id;
  check(typeof datasetId === 'string' && created.pdpEnabled === false, 'datasets.create returns the DataSet, PDP off', created);
  const rows = 'Pythagoras,FALSE,0\nAlan Turing,TRUE,2\nGeorge Boole,TRUE,1\nAda Lovelace,TRUE,3\n';
  const header = 'Friend,Attending,Guests\n';
  await admin.datasets.importData(datasetId, rows);
  const exported = await admin.datasets.exportData(datasetId, true);
  check(exported === header + rows, 'datasets.importData then exportData(…, true) gives the rows back with a header', exported);
  check(await admin.datasets.exportData(datasetId) === rows, 'datasets.exportData without a header');
  const meta = await admin.datasets.get(datasetId);
  check(meta.rows === 4 && same(meta.schema.columns, columns), 'datasets.get shows 4 rows and the schema', meta);
  const listed = await admin.datasets.list(50, 0, 'name');
  check(listed.some((d) => d.id === datasetId), 'datasets.list lists it', listed);
  const updated = await admin.datasets.update(datasetId, { description: 'changed by the Node SDK' });
  check(updated.description === 'changed by the Node SDK', 'datasets.update changes the description', updated);

  // PDP: a policy for the viewer; with PDP on, the viewer's export holds only the admitted rows.
  const policy = await admin.policies.create(datasetId, {
    name: 'Only Show Attendees',
    type: 'user',
    filters: [{ column: 'Attending', values: ['TRUE'], operator: 'EQUALS', not: false }],
    users: [VIEWER],
    groups: [],
  });
  check(Number.isInteger(policy.id) && same(policy.users, [VIEWER]), 'policies.create returns the policy', policy);
  check((await admin.policies.get(datasetId, policy.id)).name === 'Only Show Attendees', 'policies.get');
  const policies = await admin.policies.list(datasetId);
  check(same(policies.map((p) => p.name).sort(), ['All Rows', 'Only Show Attendees']), 'policies.list', policies);
  check(await viewer.datasets.exportData(datasetId) === rows, 'with PDP off the viewer sees every row');
  await admin.datasets.update(datasetId, { pdpEnabled: true });
  const attendees = 'Alan Turing,TRUE,2\nGeorge Boole,TRUE,1\nAda Lovelace,TRUE,3\n';
  check(await viewer.datasets.exportData(datasetId) === attendees, 'with PDP on the viewer sees only the attendees');
  check(await admin.datasets.exportData(datasetId) === rows, 'the Admin still sees every row');
  const changed = await admin.policies.update(datasetId, policy.id, {
    filters: [{ column: 'Guests', values: ['2'], operator: 'GREATER_THAN_EQUAL', not: false }],
  });
  check(changed.name === 'Only Show Attendees', 'policies.update keeps the fields it was not given', changed);
  check(await viewer.datasets.exportData(datasetId) === 'Alan Turing,TRUE,2\nAda Lovelace,TRUE,3\n',
    'after policies.update the viewer sees the rows with 2 or more guests');
  await expectError(() => admin.policies.create(datasetId, {
    name: 'Typo', filters: [{ column: 'Atending', values: ['TRUE'], operator: 'EQUALS' }], users: [VIEWER],
  }), 400, 'policies.create refuses a policy on a column the DataSet lacks');
  await admin.policies.delete(datasetId, policy.id);
  check(await viewer.datasets.exportData(datasetId, true) === header, 'after policies.delete the viewer sees no rows');

  // Streams.
  const stream = await admin.streams.create({
    dataSet: { name: 'domo-sdk stream', schema: { columns: [{ type: 'STRING', name: 'Friend' }, { type: 'LONG', name: 'Guests' }] } },
    updateMethod: 'APPEND',
  });
  const streamId = String(stream.id);
  const streamDataset = stream.dataSet.id;
  check((await admin.streams.get(streamId)).dataSet.id === streamDataset, 'streams.get returns the stream and its DataSet');
  check((await admin.streams.list()).some((s) => s.id === stream.id), 'streams.list lists it');
  const byDataset = await admin.streams.search([`dataSource.id:${streamDataset}`]);
  check(same(byDataset.map((s) => s.id), [stream.id]), 'streams.search(dataSource.id:…) finds it', byDataset);
  const byOwner = await admin.streams.search([`dataSource.owner.id:${stream.dataSet.owner.id}`]);
  check(byOwner.some((s) => s.id === stream.id), 'streams.search(dataSource.owner.id:…) finds it', byOwner);
  const execution = await admin.streams.createExecution(streamId);
  check(execution.currentState === 'ACTIVE', 'streams.createExecution starts an ACTIVE execution', execution);
  await admin.streams.uploadPart(streamId, execution.id, 1, 'Alan Turing,2\nGeorge Boole,1\n');
  await admin.streams.uploadCompressedPart(streamId, execution.id, 2, zlib.gzipSync('Ada Lovelace,3\n'));
  const committed = await admin.streams.commit(streamId, execution.id);
  check(committed.currentState === 'SUCCESS', 'streams.commit commits', committed);
  check(await admin.datasets.exportData(streamDataset) === 'Alan Turing,2\nGeorge Boole,1\nAda Lovelace,3\n',
    'the committed parts (one gzip, sent as application/gzip) are the DataSet\'s rows, in part order');
  check((await admin.streams.getExecution(streamId, execution.id)).currentState === 'SUCCESS', 'streams.getExecution');
  check((await admin.streams.listExecutions(streamId, 50, 0)).length === 1, 'streams.listExecutions');
  const patched = await admin.streams.update(streamId, { updateMethod: 'REPLACE' });
  check(patched.updateMethod === 'REPLACE', 'streams.update changes the update method', patched);
  const first = await admin.streams.createExecution(streamId);
  const aborted = await admin.streams.abort(streamId, first.id);
  check(aborted.currentState === 'ABORTED', 'streams.abort(id, execution) aborts it', aborted);
  const current = await admin.streams.createExecution(streamId);
  await admin.streams.uploadPart(streamId, current.id, 1, 'Nobody,0\n');
  await admin.streams.abort(streamId);
  check((await admin.streams.getExecution(streamId, current.id)).currentState === 'ABORTED',
    'streams.abort(id) aborts the active execution');
  check((await admin.datasets.exportData(streamDataset)).split('\n').length === 4, 'aborted executions leave the rows alone');
  await admin.streams.delete(streamId);
  await expectError(() => admin.streams.get(streamId), 404, 'streams.delete deletes the stream');

  for (const id of [datasetId, streamDataset]) {
    await admin.datasets.delete(id);
  }
  // Domo documents a GET of a deleted DataSet as 200 with a subset of fields and `deleted: true`.
  const gone = await admin.datasets.get(datasetId);
  check(gone.deleted === true && gone.schema === undefined, 'datasets.delete deletes the DataSets', gone);

  console.log('domo-sdk: every check passed');
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.log(`FAILED: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
