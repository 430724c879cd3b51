// End to end: the shipped definition, the real Rust Lambdas (cargo lambda watch), moto.
// Needs STACKFLEET_MOTO, STACKFLEET_LAMBDA, STACKFLEET_PYTHON, STACKFLEET_E2E_STATE:
// scripts/statemachine-test sets them up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, example, execute, fixture, org } from './harness.mjs';

const lambda = process.env.STACKFLEET_LAMBDA;
const state = JSON.parse(readFileSync(process.env.STACKFLEET_E2E_STATE, 'utf8'));
const target = (account) => `${account}:us-east-1`;
const sorted = (list) => [...list].sort();

/** The pipeline fixture, pointed at this Organization and at the federation example. */
function pipelineInput() {
  const input = fixture('execution-input-pipeline.json');
  input.stackName = 'org-federation';
  input.template = { body: readFileSync(join(ROOT, 'examples/federation/template.yaml'), 'utf8') };
  input.parameters = example('federation/rollout.yaml').parameters;
  input.capabilities = ['CAPABILITY_NAMED_IAM'];
  input.targets = { ...input.targets, ous: [state.ous.Prod], exclude: [] };
  input.failureTolerance = 0;
  input.concurrency = 8;
  return input;
}

function reduced(run) {
  const reduce = run.calls.filter((c) => c.state === 'Reduce' && c.output);
  assert.equal(reduce.length, 1, `one Reduce: ${JSON.stringify(run.calls.map((c) => c.state))}`);
  return reduce[0].output;
}

test('a rollout to 20 accounts: 3 fail for a real reason, the re-run of exactly those succeeds, a new account deploys alone', async (t) => {
  const conflicts = sorted(state.conflicts.map(target));

  const first = await execute(pipelineInput(), 'e2e-first', lambda);
  const firstReport = reduced(first);
  await t.test('the execution fails with a cause naming the 3 accounts', () => {
    assert.equal(first.status, 'FAILED', JSON.stringify(first));
    assert.equal(first.error, 'TargetsFailed');
    for (const account of state.conflicts) assert.match(first.cause, new RegExp(account));
  });
  await t.test("the reducer's report groups them under their root cause", () => {
    assert.deepEqual(firstReport.summary, { total: 20, created: 17, updated: 0, unchanged: 0, failed: 3, skipped: 0 });
    assert.equal(firstReport.failures.length, 1);
    assert.equal(firstReport.failures[0].error, 'StackFailed');
    assert.match(firstReport.failures[0].cause, /Role with name FederatedReadOnly already exists/);
    assert.deepEqual(sorted(firstReport.failures[0].targets), conflicts);
  });
  await t.test('rerunInput holds exactly those 3', () => {
    assert.deepEqual(sorted(firstReport.rerunInput.targets.list), conflicts);
    assert.equal(firstReport.rerunInput.stackName, 'org-federation');
  });

  org('fix', process.env.STACKFLEET_E2E_STATE, 'org-federation');
  const rerun = await execute(firstReport.rerunInput, 'e2e-rerun', lambda);
  await t.test('after the cause is removed, the re-run succeeds', () => {
    assert.equal(rerun.status, 'SUCCEEDED', JSON.stringify(rerun));
    const report = reduced(rerun);
    assert.deepEqual(report.summary, { total: 3, created: 3, updated: 0, unchanged: 0, failed: 0, skipped: 0 });
    assert.equal(report.rerunInput, null);
  });

  const account = org('new-account', 'joined-today');
  const event = fixture('event-create-account-result.json');
  event.detail.serviceEventDetails.createAccountStatus.accountId = account;
  const joined = await execute(event, 'e2e-new-account', lambda);
  await t.test('a new-account event deploys the stored default spec to that account alone', () => {
    assert.equal(joined.status, 'SUCCEEDED', JSON.stringify(joined));
    const report = reduced(joined);
    assert.deepEqual(report.summary, { total: 1, created: 1, updated: 0, unchanged: 0, failed: 0, skipped: 0 });
    const discovered = joined.calls.find((c) => c.state === 'Discover').output;
    assert.deepEqual(discovered.targets, [target(account)]);
    assert.equal(discovered.newAccount, true);
  });
});

test('an error the worker throws is retried by its name, then caught and recorded as the target\'s outcome', async () => {
  // moto cannot answer for a region it does not know: every CloudFormation call there fails, and
  // the worker throws Internal, as it would for an endpoint that keeps failing.
  const input = fixture('execution-input-rerun.json');
  input.targets = { list: [`${state.conflicts[0]}:ap-nowhere-1`] };
  const run = await execute(input, 'e2e-unreachable', lambda, { Start: 0 });

  const starts = run.calls.filter((c) => c.state === 'Start');
  assert.deepEqual(starts.map((c) => c.error), ['Internal', 'Internal', 'Internal', 'Internal'], 'the first try and 3 retries');
  assert.ok(run.calls.some((c) => c.state === 'RecordFailure' && c.output?.outcome === 'Failed'), 'caught and recorded');
  assert.equal(run.status, 'FAILED');
  const report = reduced(run);
  assert.equal(report.summary.failed, 1);
  assert.equal(report.failures[0].error, 'Internal');
  assert.deepEqual(report.rerunInput.targets.list, [`${state.conflicts[0]}:ap-nowhere-1`]);
});
