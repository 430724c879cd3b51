// End to end: the shipped definition, the real Rust Lambdas (cargo lambda watch), moto.
// Needs STACKFLEET_MOTO, STACKFLEET_LAMBDA, STACKFLEET_PYTHON, STACKFLEET_E2E_STATE:
// scripts/statemachine-test sets them up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FEDERATION, example, execute, fixture, org, runObject, runOf, uploaded } from './harness.mjs';

const lambda = process.env.STACKFLEET_LAMBDA;
const state = JSON.parse(readFileSync(process.env.STACKFLEET_E2E_STATE, 'utf8'));
const target = (account) => `${account}:us-east-1`;
const sorted = (list) => [...list].sort();
const prod = state.accounts.filter((a) => a.ou === 'Prod').map((a) => target(a.id));

/** The pipeline fixture, pointed at this Organization and at the federation example. */
function pipelineInput() {
  const input = fixture('execution-input-pipeline.json');
  input.stackName = 'org-federation';
  input.template = FEDERATION;
  input.parameters = example('federation/rollout.yaml').parameters;
  input.capabilities = ['CAPABILITY_NAMED_IAM'];
  input.targets = { ...input.targets, ous: [state.ous.Prod], exclude: [] };
  // Two failures tolerated: the third, which only the 3 hand-made roles can cause, passes the
  // tolerance, and no target starts after it. All 3 fail whatever the order; how many of the
  // others were created before is up to timing, and the rest are reported not started.
  input.failureTolerance = 2;
  input.concurrency = 8;
  return input;
}

function reduced(run) {
  const reduce = run.calls.filter((c) => c.state === 'Reduce' && c.output);
  assert.equal(reduce.length, 1, `one Reduce: ${JSON.stringify(run.calls.map((c) => c.state))}`);
  return reduce[0].output;
}

/** Every target the Gate handed the Deploy Map, in the order it did. */
const deployed = (run) => run.calls.filter((c) => c.state === 'Gate' && c.output?.action === 'deploy').flatMap((c) => c.output.items);

/** The targets a worker reported with this outcome. */
const ended = (run, outcome) =>
  run.calls.filter((c) => ['Start', 'Poll'].includes(c.state) && c.output?.outcome === outcome).map((c) => c.output.target);

test('a rollout to 20 accounts: 3 fail for a real reason, the resume of what is left succeeds, a new account deploys alone', async (t) => {
  const conflicts = sorted(state.conflicts.map(target));

  const first = await execute(pipelineInput(), 'e2e-first', lambda);
  const firstReport = reduced(first);
  const created = ended(first, 'Created');
  await t.test('the execution fails, halted past its tolerance, with a cause naming the 3 accounts', () => {
    assert.equal(first.status, 'FAILED', JSON.stringify(first));
    assert.equal(first.error, 'Halted');
    assert.match(first.cause, /3 of 20 targets failed in the wave \(2 tolerated\)/);
    for (const account of state.conflicts) assert.match(first.cause, new RegExp(account));
  });
  await t.test("the reducer's report groups them under their root cause and accounts for every target", () => {
    const { total, created: made, updated, unchanged, failed, skipped } = firstReport.summary;
    assert.deepEqual({ total, updated, unchanged, failed }, { total: 20, updated: 0, unchanged: 0, failed: 3 });
    assert.equal(made, created.length);
    assert.equal(made + skipped, 17);
    assert.equal(firstReport.failures.length, 1);
    assert.equal(firstReport.failureGroups, 1);
    assert.equal(firstReport.failures[0].error, 'StackFailed');
    assert.match(firstReport.failures[0].cause, /Role with name FederatedReadOnly already exists/);
    assert.equal(firstReport.failures[0].count, 3);
    assert.deepEqual(sorted(firstReport.failures[0].targets), conflicts);
    const report = runObject(firstReport.reportKey);
    assert.deepEqual(sorted(report.outcomes.map((o) => o.target)), sorted(prod));
    for (const outcome of report.outcomes.filter((o) => o.kind === 'Skipped')) {
      assert.equal(outcome.notStarted, true, JSON.stringify(outcome));
    }
  });
  const resumeInput = runObject(firstReport.resumeInputKey);
  await t.test("the resume input in the run bucket is the run's document, resuming it", () => {
    assert.match(runOf(first), /^e2e-first-\d{8}T\d{6}Z$/, 'the run is the execution\'s name and start time');
    assert.equal(firstReport.resumeInputKey, `runs/${runOf(first)}/resume-input.json`);
    assert.equal(resumeInput.resume, runOf(first));
    assert.equal(resumeInput.stackName, 'org-federation');
    assert.deepEqual(resumeInput.targets.ous, [state.ous.Prod]);
  });

  org('fix', process.env.STACKFLEET_E2E_STATE, 'org-federation');
  const rerun = await execute(resumeInput, 'e2e-rerun', lambda);
  await t.test('after the cause is removed, the resume deploys exactly the targets without a success, and succeeds', () => {
    assert.equal(rerun.status, 'SUCCEEDED', JSON.stringify(rerun));
    const again = deployed(rerun);
    assert.deepEqual(sorted(again), sorted(prod.filter((p) => !created.includes(p))));
    for (const conflict of conflicts) assert.ok(again.includes(conflict), conflict);
    const report = reduced(rerun);
    assert.deepEqual(report.summary, { total: 20, created: 20, updated: 0, unchanged: 0, failed: 0, skipped: 0 }, 'the first run\'s successes included');
    assert.equal(report.resumeInputKey, null);
  });
  await t.test("Reduce wrote every account's stack outputs next to the report, the first run's successes included", () => {
    const { outputsKey } = reduced(rerun);
    assert.equal(outputsKey, `runs/${runOf(rerun)}/outputs.json`);
    const outputs = runObject(outputsKey);
    assert.deepEqual(Object.keys(outputs).sort(), sorted(prod.map((p) => p.split(':')[0])));
    for (const [account, regions] of Object.entries(outputs)) {
      assert.match(regions['us-east-1'].ReadOnlyRoleArn, new RegExp(`^arn:aws:iam::${account}:role/`), account);
    }
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
    assert.equal(discovered.targets, 1);
    assert.deepEqual(deployed(joined), [target(account)]);
    const gate = joined.calls.find((c) => c.state === 'Gate' && c.output?.action === 'deploy').output;
    assert.equal(gate.newAccount, true);
  });
});

test('an error the worker throws is retried by its name, then caught and recorded as the target\'s outcome', async () => {
  // moto cannot answer for a region it does not know: every CloudFormation call there fails, and
  // the worker throws Internal, as it would for an endpoint that keeps failing.
  const unreachable = `${state.conflicts[0]}:ap-nowhere-1`;
  const input = fixture('execution-input-rerun.json');
  input.targets = { list: [unreachable] };
  const run = await execute(input, 'e2e-unreachable', lambda, { Start: 0 });

  const starts = run.calls.filter((c) => c.state === 'Start');
  assert.deepEqual(starts.map((c) => c.error), ['Internal', 'Internal', 'Internal', 'Internal'], 'the first try and 3 retries');
  assert.ok(run.calls.some((c) => c.state === 'RecordFailure' && c.output?.outcome === 'Failed'), 'caught and recorded');
  assert.equal(run.status, 'FAILED');
  assert.equal(run.error, 'Halted', '1 of 1 failed, 0% tolerated');
  const report = reduced(run);
  assert.equal(report.summary.failed, 1);
  assert.equal(report.failures[0].error, 'Internal');
  const resumeInput = runObject(report.resumeInputKey);
  assert.equal(resumeInput.resume, runOf(run));
  assert.deepEqual(resumeInput.targets.list, [unreachable]);
});

test('a child that fails outside its Catch still ends in the report, as a lost target', async () => {
  // Lambda itself fails every invocation (a crash: Lambda.Unknown, retried 3 times): Start's
  // Catch goes to RecordFailure, which fails too, and the child ends in its Fail state without an
  // outcome. (In AWS the Map tolerates the failed child; aws-local-stepfunctions 3 fails the Map,
  // which the Map's Catch hands the Gate. Either way the Gate records the target lost.)
  const lost = target(state.accounts.find((a) => a.ou === 'Prod').id);
  const input = fixture('execution-input-rerun.json');
  input.stackName = 'e2e-lost';
  input.targets = { list: [lost] };
  const crash = () => 'Lambda.Unknown';
  const faults = { Start: crash, RecordFailure: crash };
  const run = await execute(input, 'e2e-lost', lambda, { Start: 0, RecordFailure: 0 }, { faults });

  const tries = (state) => Array(4).fill([state, 'Lambda.Unknown']);
  assert.deepEqual(
    run.calls.filter((c) => c.state !== 'Gate').map((c) => [c.state, c.error ?? 'ok']),
    [['Discover', 'ok'], ...tries('Start'), ...tries('RecordFailure'), ['Reduce', 'ok']],
  );
  assert.equal(run.status, 'FAILED');
  const report = reduced(run);
  assert.deepEqual(report.summary, { total: 1, created: 0, updated: 0, unchanged: 0, failed: 1, skipped: 0 });
  assert.equal(report.failures[0].error, 'Internal');
  assert.match(report.failures[0].cause, /no outcome was recorded for this target/);
  assert.deepEqual(report.failures[0].targets, [lost]);
  assert.deepEqual(runObject(report.resumeInputKey).targets.list, [lost]);
});

test('an explicit list is held to the Organization: outside, excluded and management accounts are Skipped, never deployed to', async () => {
  const [member, excluded] = state.accounts.filter((a) => a.ou === 'Dev').map((a) => a.id);
  const outsider = '555555555555';
  const management = '123456789012';
  const input = fixture('execution-input-rerun.json');
  input.stackName = 'e2e-listed';
  // A template of no named resource: the waves tests deploy the federation role to Dev later.
  input.template = uploaded('e2e-listed.yaml', 'Resources:\n  Handle:\n    Type: AWS::CloudFormation::WaitConditionHandle\n').template;
  input.targets = { list: [target(member), target(outsider), target(excluded), target(management)], exclude: [excluded] };
  const run = await execute(input, 'e2e-listed', lambda);

  assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run));
  assert.deepEqual(deployed(run), [target(member)]);
  const report = runObject(reduced(run).reportKey);
  const skipped = Object.fromEntries(report.outcomes.filter((o) => o.kind === 'Skipped').map((o) => [o.target, o.skippedReason]));
  assert.deepEqual(skipped, {
    [target(outsider)]: 'the account is not a member of this Organization',
    [target(excluded)]: 'the account is excluded (targets.exclude)',
    [target(management)]: 'the management account (pass --include-management-account to deploy to it)',
  });
  // A suspended account is Skipped the same way (crates/lambda/tests/explicit_targets.rs): this
  // Organization has none, for the other tests' sake.
});
