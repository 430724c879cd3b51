// A plan-first execution (`mode: plan`) end to end: the shipped definition, the real Rust Lambdas
// (cargo lambda watch), moto. The waves plan every target (change sets kept), Plan writes the
// plan to the run bucket, Approval waits for approval.json (written here as `stackfleet approve`
// writes it: the CLI needs a real Step Functions execution, its checks are in
// crates/aws/tests/approve_fakes.rs), then the waves apply the approved group's change sets only
// and delete the other group's. The expiry is played on the fakes: crates/lambda/tests/plan_first.rs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execute, org, runObject, uploaded } from './harness.mjs';

const lambda = process.env.STACKFLEET_LAMBDA;
const statePath = process.env.STACKFLEET_E2E_STATE;
const state = JSON.parse(readFileSync(statePath, 'utf8'));
const target = (account) => `${account}:us-east-1`;
const dev = state.accounts.filter((a) => a.ou === 'Dev').map((a) => a.id);
const TEMPLATE = [
  'Parameters:',
  '  Env:',
  '    Type: String',
  'Resources:',
  '  Handle:',
  '    Type: AWS::CloudFormation::WaitConditionHandle',
  'Outputs:',
  '  Env:',
  '    Value: !Ref Env',
  '',
].join('\n');

test('a plan-first execution plans, waits for the approval, then applies the approved group only', async (t) => {
  const accounts = dev.slice(0, 4);
  const { template } = uploaded('plan-first.yaml', TEMPLATE);
  const rollout = (env, list, fields = {}) => ({
    stackName: 'plan-first',
    template,
    parameters: { Env: env },
    targets: { list: list.map(target) },
    pollIntervalSeconds: 1,
    ...fields,
  });
  // The fourth account holds the stack already (Env=v1): its plan is an update, a group apart.
  const before = await execute(rollout('v1', accounts.slice(3)), 'plan-first-before', lambda, {}, { waits: { Wait: 0 } });
  assert.equal(before.status, 'SUCCEEDED', `${before.error}: ${before.cause}`);

  let approved;
  const onCall = (call) => {
    if (call.state !== 'Plan' || !call.output) return;
    const digest = call.output;
    approved = digest.groups.filter((g) => g.headline.startsWith('stack does not exist yet')).map((g) => g.id);
    const approval = { groups: approved, approvedBy: 'arn:aws:iam::123456789012:user/reviewer', approvedAtMs: Date.now() };
    org('put', 'stackfleet-runs', `runs/${digest.run}/approval.json`, JSON.stringify(approval));
  };
  const input = rollout('v2', accounts, { mode: 'plan', approvalTimeoutSeconds: 3600 });
  const run = await execute(input, 'plan-first', lambda, {}, { waits: { Wait: 0, 'Await approval': 0 }, onCall });
  const gates = run.calls.filter((c) => c.state === 'Gate' && c.output).map((c) => c.output);

  await t.test('the execution succeeds: the waves planned, the plan waited for its approval, the waves applied', () => {
    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    assert.deepEqual(
      gates.map((g) => g.action),
      ['deploy', 'plan', 'deploy', 'done'],
    );
    const approvals = run.calls.filter((c) => c.state === 'Approval' && c.output).map((c) => c.output.action);
    assert.deepEqual(approvals, ['apply']);
  });

  await t.test('the plan in the run bucket: two groups, the Markdown naming stackfleet approve', () => {
    const digest = run.calls.find((c) => c.state === 'Plan' && c.output).output;
    assert.equal(digest.targets, 4);
    assert.equal(digest.groupCount, 2, JSON.stringify(digest.groups));
    const plan = runObject(digest.planKey);
    assert.deepEqual(plan.targets.map((p) => p.target).sort(), accounts.map(target).sort());
    const markdown = org('get', 'stackfleet-runs', digest.planMdKey);
    assert.match(markdown, /stackfleet approve EXECUTION_ARN --group ID/);
    assert.equal(approved.length, 1);
  });

  await t.test('the approved creates were applied; the unapproved update was not, its change set deleted', () => {
    const reduce = run.calls.find((c) => c.state === 'Reduce' && c.output).output;
    const report = runObject(reduce.reportKey);
    const byTarget = new Map(report.outcomes.map((o) => [o.target, o]));
    for (const account of accounts.slice(0, 3)) assert.equal(byTarget.get(target(account)).kind, 'Created', account);
    const skipped = byTarget.get(target(accounts[3]));
    assert.equal(skipped.kind, 'Skipped');
    assert.match(skipped.skippedReason, /was not approved/);
    const parameters = JSON.parse(org('parameters', statePath, 'plan-first'));
    for (const account of accounts.slice(0, 3)) assert.deepEqual(parameters[account], { Env: 'v2' }, account);
    assert.deepEqual(parameters[accounts[3]], { Env: 'v1' }, 'the update was not applied');
  });
});
