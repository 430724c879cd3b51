// What Lambda's limits do to a rollout, end to end (the shipped definition, the real Lambdas,
// moto): a worker invocation that timed out or crashed is retried and its target still ends with
// what its operation came to; a run asking for more concurrency than the worker's reservation is
// refused at Discover. Needs what e2e.test.mjs needs: scripts/statemachine-test sets it up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execute, runObject, stacksIn, uploaded } from './harness.mjs';

const lambda = process.env.STACKFLEET_LAMBDA;
const strict = process.env.STACKFLEET_LAMBDA_STRICT;
const state = JSON.parse(readFileSync(process.env.STACKFLEET_E2E_STATE, 'utf8'));
const target = (account) => `${account}:us-east-1`;
// Dev accounts the waves tests do not conflict in: each test here rolls out its own stack.
const dev = state.accounts.filter((a) => a.ou === 'Dev').map((a) => a.id);

const MARKER = [
  'Parameters:',
  '  Name:',
  '    Type: String',
  'Resources:',
  '  Marker:',
  '    Type: AWS::SSM::Parameter',
  '    Properties:',
  '      Name: !Ref Name',
  '      Type: String',
  '      Value: timeouts',
].join('\n');

/** Fails the first call of `state` for `account` with `fault`, once. */
function once(account, fault) {
  let done = false;
  return (input) => {
    if (done || input.target !== target(account)) return undefined;
    done = true;
    return fault;
  };
}

test('a worker invocation that times out once, in Start or in Poll, is retried and its target ends as its operation did', async (t) => {
  const [lostStart, lostPoll, timedOut, crashed] = dev.slice(0, 4);
  const input = {
    stackName: 'lambda-timeouts',
    template: uploaded('lambda-timeouts.yaml', MARKER).template,
    parameters: { Name: '/stackfleet/lambda-timeouts' },
    targets: { list: [lostStart, lostPoll, timedOut, crashed].map(target) },
    pollIntervalSeconds: 1,
    concurrency: 1,
    failureTolerance: 0,
  };
  // Built once: each fails its account's first call of the state, and only that one.
  const startFaults = [
    // Start launched the create, then its invocation timed out: Lambda's timeout error.
    once(lostStart, { error: 'Sandbox.Timedout', afterCall: true }),
    // The Task's own timeout, before the function ran.
    once(timedOut, 'States.Timeout'),
  ];
  const pollFaults = [
    // Poll found the create done and wrote the outcome; its answer was lost (Lambda.Unknown: an
    // error payload without an error type, as Step Functions reports a crash or an old timeout).
    once(lostPoll, { error: 'Lambda.Unknown', afterCall: true }),
    once(crashed, 'Lambda.Unknown'),
  ];
  const first = (faults) => (input) => faults.map((fault) => fault(input)).find(Boolean);
  const faults = { Start: first(startFaults), Poll: first(pollFaults) };
  const run = await execute(input, 'lambda-timeouts', lambda, { Start: 0, Poll: 0 }, { waits: { Wait: 0 }, faults });
  const injected = run.calls.filter((c) => c.injected).map((c) => [c.state, c.input.target.split(':')[0], c.error]);

  await t.test('each fault happened once and was retried, not caught into RecordFailure', () => {
    assert.deepEqual(injected.sort(), [
      ['Poll', crashed, 'Lambda.Unknown'],
      ['Poll', lostPoll, 'Lambda.Unknown'],
      ['Start', lostStart, 'Sandbox.Timedout'],
      ['Start', timedOut, 'States.Timeout'],
    ].sort());
    assert.ok(!run.calls.some((c) => c.state === 'RecordFailure'), JSON.stringify(run.calls.map((c) => [c.state, c.error])));
    // The retried Poll tells the worker it is one ($$.State.RetryCount), the first did not.
    const polls = run.calls.filter((c) => c.state === 'Poll' && c.input.target === target(lostPoll));
    const lost = polls.findIndex((c) => c.injected);
    assert.deepEqual([polls[lost].input.retried, polls[lost + 1].input.retried], [0, 1]);
    assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.calls.map((c) => [c.state, c.error ?? c.output])));
  });
  await t.test('the report: no target Failed; a lost Start or Poll answer is still Created', () => {
    const reduce = run.calls.find((c) => c.state === 'Reduce' && c.output).output;
    assert.equal(reduce.summary.failed, 0);
    const outcomes = new Map(runObject(reduce.reportKey).outcomes.map((o) => [o.target.split(':')[0], o.kind]));
    assert.equal(outcomes.get(lostPoll), 'Created');
    assert.equal(outcomes.get(timedOut), 'Created');
    assert.equal(outcomes.get(crashed), 'Created');
    // The retried Start finds the create its lost invocation launched by its token on the stack's
    // events (scripts/moto_server.py gives moto's events the token, as CloudFormation's carry it)
    // and reports it, instead of updating the stack it had just made.
    assert.equal(outcomes.get(lostStart), 'Created');
  });
  await t.test('read back from moto: every account has the stack', () => {
    const found = stacksIn('lambda-timeouts', 'Dev');
    for (const account of [lostStart, lostPoll, timedOut, crashed]) assert.match(found[account] ?? 'none', /^(CREATE|UPDATE)_COMPLETE$/, account);
  });
});

test('a run asking for more concurrency than the worker may run at once is refused at Discover, naming both', async () => {
  const run = await execute({ concurrency: 40 }, 'lambda-concurrency', strict);
  assert.equal(run.status, 'FAILED');
  assert.equal(run.error, 'InvalidInput');
  assert.match(run.cause, /^concurrency: 40 is above the worker function's reserved concurrency of 25 \(STACKFLEET_WORKER_CONCURRENCY\)/);
  assert.match(run.cause, /give a concurrency of at most 25, or redeploy the CDK app with -c workerConcurrency=40/);
  assert.deepEqual(run.calls.map((c) => c.state), ['Discover'], 'no target touched');
  assert.throws(() => runObject('runs/lambda-concurrency/run.json'), undefined, 'nothing written');
});
