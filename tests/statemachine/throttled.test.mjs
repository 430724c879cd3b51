// The state machine's concurrency under the caller's throttling, end to end: the shipped
// definition, the real Rust Lambdas (cargo lambda watch), moto answering AssumeRole with
// Throttling as STS does (scripts/moto_server.py's faults file). A worker invocation that STS
// throttled leaves its tally; the Gate runs the next part at a lower MaxConcurrency, in parts of
// a few rounds, and climbs back once the parts are clean. Needs what e2e.test.mjs needs:
// scripts/statemachine-test sets it up. The same scenario, step by step on the fakes:
// crates/lambda/tests/adaptive_parts.rs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execute, recordsOf, runObject, uploaded } from './harness.mjs';

const lambda = process.env.STACKFLEET_LAMBDA;
const state = JSON.parse(readFileSync(process.env.STACKFLEET_E2E_STATE, 'utf8'));
const faults = process.env.STACKFLEET_MOTO_FAULTS;
const target = (account) => `${account}:us-east-1`;
const dev = state.accounts.filter((a) => a.ou === 'Dev').map((a) => a.id);

test('AssumeRole throttled in the first wave: the next part runs fewer targets at once, then the ceiling again; nothing fails', async (t) => {
  const canary = dev.slice(0, 10);
  const input = {
    stackName: 'throttled',
    template: uploaded('throttled.yaml', 'Resources:\n  Handle:\n    Type: AWS::CloudFormation::WaitConditionHandle\n').template,
    targets: { ous: [state.ous.Dev], regions: ['us-east-1'] },
    pollIntervalSeconds: 1,
    concurrency: 5,
    failureTolerance: 0,
    waves: [{ name: 'canary', accounts: canary }, { name: 'all', percent: 100 }],
  };
  // The workers' SDK tries each call twice (AWS_MAX_ATTEMPTS=2): 20 throttled answers are 10
  // AssumeRole calls throttled past the SDK's retries, each a worker invocation that throws
  // Throttled, which the Start task's Retry takes again.
  writeFileSync(faults, JSON.stringify({ AssumeRole: { throttle: 20 } }));
  let run;
  try {
    run = await execute(input, 'throttled', lambda, { Start: 0, Poll: 0 }, { waits: { Wait: 0 } });
  } finally {
    rmSync(faults, { force: true });
  }
  const deploys = run.calls.filter((c) => c.state === 'Gate' && c.output?.action === 'deploy').map((c) => c.output);

  await t.test('the execution succeeds', () => {
    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
  });

  await t.test('workers were throttled, and the state machine retried them', () => {
    const throttled = run.calls.filter((c) => c.state === 'Start' && c.error === 'Throttled');
    assert.equal(throttled.length, 10, JSON.stringify(throttled.map((c) => c.input.target)));
    const markers = recordsOf('throttled').filter((key) => key.includes('/throttled/0/'));
    assert.equal(markers.length, 10, JSON.stringify(markers));
  });

  await t.test('the canary ran at the ceiling; the next part lower, a few rounds of it; then the ceiling', () => {
    const parts = deploys.map((d) => [d.waveName, d.concurrency, d.items.length]);
    assert.deepEqual(parts[0], ['canary', 5, 10], JSON.stringify(parts));
    const [, lowered, size] = parts[1];
    assert.ok(lowered < 5, `lowered: ${JSON.stringify(parts)}`);
    assert.equal(size, Math.min(10, lowered * 4), JSON.stringify(parts));
    if (size < 10) assert.deepEqual(parts.slice(2), [['all', 5, 10 - size]], JSON.stringify(parts));
    else assert.equal(parts.length, 2, JSON.stringify(parts));
  });

  await t.test('the report: every account created, none failed', () => {
    const reduce = run.calls.find((c) => c.state === 'Reduce' && c.output).output;
    const report = runObject(reduce.reportKey);
    const byTarget = new Map(report.outcomes.map((o) => [o.target, o.kind]));
    for (const account of dev) assert.equal(byTarget.get(target(account)), 'Created', account);
  });
});
