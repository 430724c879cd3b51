// The trust boundary end to end: the shipped definition, the real Lambdas and moto, on the suite's
// strict machine (STACKFLEET_LAMBDA_STRICT: the default allow-list, a default spec bounded to the
// Prod OU; scripts/statemachine-test sets it up). An execution input may narrow where and how
// fast the stored default spec deploys, never what it deploys or where beyond it; every target
// deploys the template version Discover pinned.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FEDERATION, ROOT, execute, fixture, org, recordsOf, runObject, runOf } from './harness.mjs';

const strict = process.env.STACKFLEET_LAMBDA_STRICT;
const state = JSON.parse(readFileSync(process.env.STACKFLEET_E2E_STATE, 'utf8'));
const prod = state.accounts.filter((a) => a.ou === 'Prod' && !state.conflicts.includes(a.id)).map((a) => a.id);
const states = (run) => run.calls.map((c) => c.state);
const noRecords = (name) => assert.deepEqual(recordsOf(name), [], `no record of ${name}`);

test('an input that changes what the default spec deploys is refused at Discover, naming the field', async () => {
  // The federation attack: the same template and role, only the SAML metadata swapped.
  const swap = await execute({ parameters: { SamlMetadataDocument: '<EntityDescriptor>outside</EntityDescriptor>' } }, 'trust-swap', strict);
  assert.equal(swap.status, 'FAILED');
  assert.equal(swap.error, 'InvalidInput');
  assert.match(swap.cause, /may not change parameters\.SamlMetadataDocument/);
  assert.match(swap.cause, /accepts changes to: concurrency, failureTolerance, targets, waves/);
  assert.deepEqual(states(swap), ['Discover'], 'no target touched');
  noRecords('trust-swap');

  const role = await execute({ deployRole: { name: 'SomebodysAdmin' }, template: { url: 'https://elsewhere.s3.us-east-1.amazonaws.com/t.yaml' } }, 'trust-role', strict);
  assert.equal(role.error, 'InvalidInput');
  assert.match(role.cause, /may not change deployRole, template/);
  noRecords('trust-role');
});

test('an input may narrow the default spec\'s targets, never widen them', async () => {
  const dev = await execute({ targets: { ous: [state.ous.Dev] } }, 'trust-dev', strict);
  assert.equal(dev.error, 'InvalidInput');
  assert.match(dev.cause, /outside what this state machine may deploy to .*never widen/);
  assert.deepEqual(states(dev), ['Discover']);
  noRecords('trust-dev');

  const region = await execute({ targets: { accounts: [prod[0]], regions: ['eu-west-1'] } }, 'trust-region', strict);
  assert.equal(region.error, 'InvalidInput');
  assert.match(region.cause, /region is not among the stored default spec's regions/);
});

test('an allowed input deploys the template version Discover pinned, recorded with its digest', async () => {
  const body = readFileSync(join(ROOT, 'examples/federation/template.yaml'));
  const run = await execute({ targets: { accounts: [prod[0]] }, concurrency: 1 }, 'trust-pinned', strict);
  assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.cause ?? run.output));
  const records = `runs/${runOf(run)}`;
  const record = runObject(`${records}/run.json`);
  assert.equal(record.template.url, FEDERATION.url);
  assert.equal(record.template.sha256, createHash('sha256').update(body).digest('hex'));
  assert.ok(record.template.versionId, JSON.stringify(record.template));
  // What every worker deploys: the run's spec, its URL naming that version.
  const spec = runObject(`${records}/spec.json`);
  assert.equal(spec.template.url, `${record.template.url}?versionId=${encodeURIComponent(record.template.versionId)}`);
  const report = runObject(`${records}/report.json`);
  assert.deepEqual(report.template, record.template);
});

test('a new account outside the default spec\'s OU is reported skipped, not deployed to', async () => {
  const account = org('new-account', 'trust-joined'); // created under the root, outside Prod
  const event = fixture('event-create-account-result.json');
  event.detail.serviceEventDetails.createAccountStatus.accountId = account;
  const run = await execute(event, 'trust-joined', strict);
  assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.cause));
  assert.ok(!states(run).includes('Start'), JSON.stringify(states(run)));
  const report = runObject(`runs/${runOf(run)}/report.json`);
  assert.equal(report.summary.skipped, 1);
  assert.match(report.outcomes[0].skippedReason, /a new account not deployed to: the account is outside the stored default spec's targets/);
});

test('an execution name used again is another run: its records and report apart from the first', async () => {
  // Step Functions lets a name be used again 90 days after its execution closed; the run is the
  // name and the second the execution started, so the second one here gets its own records.
  const first = await execute({ targets: { accounts: [prod[0]] }, concurrency: 1 }, 'trust-again', strict);
  await new Promise((resolve) => setTimeout(resolve, 1100)); // another second to start in
  const second = await execute({ targets: { accounts: [prod[1]] }, concurrency: 1 }, 'trust-again', strict);
  assert.equal(first.status, 'SUCCEEDED', JSON.stringify(first.cause));
  assert.equal(second.status, 'SUCCEEDED', JSON.stringify(second.cause));
  assert.notEqual(runOf(first), runOf(second));
  for (const [run, account] of [[first, prod[0]], [second, prod[1]]]) {
    assert.match(runOf(run), /^trust-again-\d{8}T\d{6}Z$/);
    const report = runObject(`runs/${runOf(run)}/report.json`);
    assert.deepEqual(report.outcomes.map((o) => o.target), [`${account}:us-east-1`], 'its own outcome only');
  }
});
