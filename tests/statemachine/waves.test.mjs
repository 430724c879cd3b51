// Waves end to end: the shipped definition, the real Rust Lambdas (cargo lambda watch), moto.
// Each test rolls out its own stack over the 20 accounts of the Dev OU (the e2e tests use Prod),
// in 3 waves, and reads back from moto what each account has. Needs what e2e.test.mjs needs:
// scripts/statemachine-test sets it up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FEDERATION, example, execute, org, runObject, runOf, stacksIn, uploaded } from './harness.mjs';

const lambda = process.env.STACKFLEET_LAMBDA;
const statePath = process.env.STACKFLEET_E2E_STATE;
const state = JSON.parse(readFileSync(statePath, 'utf8'));
const target = (account) => `${account}:us-east-1`;
const sorted = (list) => [...list].sort();
const dev = state.accounts.filter((a) => a.ou === 'Dev').map((a) => a.id);
// The Map's child Wait (between a worker's hand-back and its next look) is cut to nothing: each
// worker invocation takes one step here (see scripts/statemachine-test), so it only adds time.
const quick = { Wait: 0 };

/** A rollout of the Dev OU's 20 accounts in us-east-1. */
function rollout(stackName, fields) {
  return {
    stackName,
    targets: { ous: [state.ous.Dev], regions: ['us-east-1'] },
    pollIntervalSeconds: 1,
    failureTolerance: 0,
    ...fields,
  };
}

function reduced(run) {
  const reduce = run.calls.filter((c) => c.state === 'Reduce' && c.output);
  assert.equal(reduce.length, 1, `one Reduce: ${JSON.stringify(run.calls.map((c) => c.state))}`);
  return reduce[0].output;
}

/** What each Gate call answered: [action, wave name, items]. */
const gates = (run) => run.calls.filter((c) => c.state === 'Gate' && c.output).map((c) => c.output);
const deployed = (run) => gates(run).filter((g) => g.action === 'deploy').flatMap((g) => g.items);

/** Every outcome of the report of waves after the first is Skipped, not started. */
function laterWavesNotStarted(report) {
  const later = report.waves.slice(1).flatMap((w) => w.targets);
  assert.ok(later.length >= 18, `${later.length} targets in the later waves`);
  const byTarget = new Map(report.outcomes.map((o) => [o.target, o]));
  for (const t of later) {
    const outcome = byTarget.get(t);
    assert.equal(outcome?.kind, 'Skipped', `${t}: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.notStarted, true, `${t}: ${JSON.stringify(outcome)}`);
    assert.match(outcome.skippedReason, /not started: the rollout halted at wave "canary"/);
  }
}

test('a canary failure halts with nothing beyond the canary touched; after the fix, the resume finishes the rest', async (t) => {
  // The canary: an account where somebody made the FederatedReadOnly role by hand, and a clean
  // one. The Map takes a wave's targets in the order of their stable hash, one at a time here
  // (concurrency 1), so the clean account goes first: it is created before the failure stops
  // the run, and its success is what the resume inherits.
  const rank = (account) => createHash('sha256').update(target(account)).digest('hex').slice(0, 16);
  const [clean, conflict] = [...dev].sort((a, b) => rank(a).localeCompare(rank(b)));
  const canary = sorted([target(clean), target(conflict)]);
  org('conflict', conflict);
  const waves = [{ name: 'canary', accounts: [conflict, clean] }, { name: 'half', percent: 50 }, { name: 'all', percent: 100 }];
  const input = rollout('waves-canary', {
    template: FEDERATION,
    parameters: example('federation/rollout.yaml').parameters,
    capabilities: ['CAPABILITY_NAMED_IAM'],
    concurrency: 1,
    waves,
  });

  const first = await execute(input, 'waves-canary', lambda, {}, { waits: quick });
  const firstReduced = reduced(first);
  await t.test('the execution fails Halted, its cause naming the canary wave and the failure', () => {
    assert.equal(first.status, 'FAILED', JSON.stringify(first.calls.map((c) => [c.state, c.error ?? c.output])));
    assert.equal(first.error, 'Halted');
    assert.match(first.cause, /halted at wave "canary" \(1 of the waves\): 1 of 2 targets failed in the wave/);
    assert.match(first.cause, /Role with name FederatedReadOnly already exists/);
    assert.match(first.cause, new RegExp(conflict));
    assert.deepEqual(firstReduced.halt, { wave: 'canary', waveIndex: 0, reason: '1 of 2 targets failed in the wave (0 tolerated)' });
  });
  await t.test('the Gate handed the Map the canary only', () => {
    assert.deepEqual(
      gates(first).map((g) => [g.action, g.waveName]),
      [['deploy', 'canary'], ['halt', 'canary']],
    );
    assert.deepEqual(sorted(deployed(first)), canary);
  });
  await t.test('read back from moto: no account outside the canary has the stack', () => {
    const found = stacksIn('waves-canary', 'Dev');
    assert.deepEqual(Object.keys(found).sort(), sorted([clean, conflict]));
    assert.equal(found[clean], 'CREATE_COMPLETE');
  });
  await t.test("the report: the canary's success and failure, the later waves' targets not started", () => {
    assert.deepEqual(firstReduced.summary, { total: 20, created: 1, updated: 0, unchanged: 0, failed: 1, skipped: 18 });
    assert.deepEqual(firstReduced.failures.map((f) => [f.error, f.count, f.targets]), [['StackFailed', 1, [target(conflict)]]]);
    const report = runObject(firstReduced.reportKey);
    assert.deepEqual(report.waves.map((w) => [w.name, w.targets.length]), [['canary', 2], ['half', 10], ['all', 8]]);
    assert.deepEqual(sorted(report.waves[0].targets), canary);
    laterWavesNotStarted(report);
  });

  org('fix', statePath, 'waves-canary', conflict);
  const resumeInput = runObject(firstReduced.resumeInputKey);
  await t.test("the resume input is the run's document, resuming it", () => {
    assert.equal(resumeInput.resume, runOf(first));
    assert.deepEqual(resumeInput.waves, waves);
  });
  const resumed = await execute(resumeInput, 'waves-canary-resume', lambda, {}, { waits: quick });
  await t.test('the resume succeeds, from the canary on, deploying every target without a success in its wave', () => {
    assert.equal(resumed.status, 'SUCCEEDED', JSON.stringify(resumed.calls.map((c) => [c.state, c.error ?? c.output])));
    const parts = gates(resumed).filter((g) => g.action === 'deploy');
    assert.deepEqual(parts.map((g) => g.waveName), ['canary', 'half', 'all']);
    assert.deepEqual(parts[0].items, [target(conflict)], 'the canary less its success');
    assert.deepEqual(sorted(deployed(resumed)), sorted(dev.filter((a) => a !== clean).map(target)));
  });
  await t.test('read back from moto: every account has the stack', () => {
    const found = stacksIn('waves-canary', 'Dev');
    assert.deepEqual(Object.keys(found).sort(), sorted(dev));
    for (const [account, status] of Object.entries(found)) assert.equal(status, 'CREATE_COMPLETE', account);
  });
  await t.test("the resumed run's report covers the whole rollout, the canary's earlier success included", () => {
    const report = reduced(resumed);
    assert.deepEqual(report.summary, { total: 20, created: 20, updated: 0, unchanged: 0, failed: 0, skipped: 0 });
    assert.equal(report.halt, null);
    assert.equal(report.resumeInputKey, null);
    const full = runObject(report.reportKey);
    assert.deepEqual(sorted(full.outcomes.map((o) => o.target)), sorted(dev.map(target)));
  });
});

test('an alarm in ALARM during the bake halts the rollout before the next wave', async (t) => {
  const alarm = 'waves-errors';
  org('alarm', alarm, 'OK');
  const input = rollout('waves-alarm', {
    template: uploaded(
      'waves-alarm.yaml',
      [
        'Parameters:',
        '  Name:',
        '    Type: String',
        'Resources:',
        '  Marker:',
        '    Type: AWS::SSM::Parameter',
        '    Properties:',
        '      Name: !Ref Name',
        '      Type: String',
        '      Value: baked',
      ].join('\n'),
    ).template,
    parameters: { Name: '/stackfleet/waves-alarm' },
    concurrency: 8,
    waves: [{ name: 'canary', count: 2, bakeSeconds: 2 }, { name: 'half', percent: 50 }, { name: 'all', percent: 100 }],
    alarms: [alarm],
  });
  // The alarm fires once the first wave is through and its bake has begun: the Gate has looked
  // at the alarms (OK) and answered "bake"; the Bake state then waits its 2 s for real.
  let fired = 0;
  const onCall = (call) => {
    if (call.state === 'Gate' && call.output?.action === 'bake' && !fired) {
      org('alarm', alarm, 'ALARM');
      fired = performance.now();
    }
  };
  const began = performance.now();
  const run = await execute(input, 'waves-alarm', lambda, {}, { waits: quick, onCall });
  const halted = performance.now();

  await t.test('the execution fails Halted, its cause naming the alarm and the bake', () => {
    assert.equal(run.status, 'FAILED', JSON.stringify(run.calls.map((c) => [c.state, c.error ?? c.output])));
    assert.equal(run.error, 'Halted');
    assert.match(run.cause, /halted at wave "canary" \(1 of the waves\): alarm in ALARM: waves-errors \(during the bake of wave "canary"\)/);
  });
  await t.test('the Gate deployed the first wave, baked, and halted when it looked again', () => {
    assert.deepEqual(
      gates(run).map((g) => [g.action, g.waveName, g.items.length]),
      [['deploy', 'canary', 2], ['bake', 'canary', 0], ['halt', 'canary', 0]],
    );
    assert.equal(gates(run)[1].waitSeconds, 2);
    assert.ok(fired > began && halted - fired >= 1500, 'the Bake state waited');
  });
  const canary = deployed(run);
  await t.test("read back from moto: the first wave's accounts have the stack, no other account does", () => {
    const found = stacksIn('waves-alarm', 'Dev');
    assert.deepEqual(Object.keys(found).sort(), sorted(canary.map((t) => t.split(':')[0])));
    for (const status of Object.values(found)) assert.equal(status, 'CREATE_COMPLETE');
  });
  await t.test("the report: the first wave created, the later waves' targets not started", () => {
    const report = reduced(run);
    assert.deepEqual(report.summary, { total: 20, created: 2, updated: 0, unchanged: 0, failed: 0, skipped: 18 });
    assert.equal(report.withinTolerance, true, 'nothing failed: the halt is the alarm\'s');
    assert.ok(report.resumeInputKey, 'a resume input for the targets not started');
    const full = runObject(report.reportKey);
    assert.deepEqual(full.waves.map((w) => [w.name, w.targets.length]), [['canary', 2], ['half', 10], ['all', 8]]);
    laterWavesNotStarted(full);
  });
});
