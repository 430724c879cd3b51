// Serverless cost, measured (a benchmark, not a test): one execution over every account of the
// moto Organization, counting state transitions (states entered, retries included, as Standard
// workflows bill them) and Lambda time, turned into dollars at published us-east-1 prices.
// Run by `scripts/statemachine-test --cost N` from `scripts/bench`.
//
// moto ends every stack operation at once, and `cargo lambda watch` gives every invocation a
// deadline long past (so each takes one step): a long operation cannot be played here. When
// STACKFLEET_LONG_OPERATIONS names the output of crates/lambda/benches/long_operations.rs (the
// real worker on the fakes and a paused clock: invocations, Waits and the time waited inside
// invocations, per operation length), those are priced with what this run measured: the
// transitions of one Wait-and-Poll round, the Lambda time of one worker invocation, and the
// execution's own states and functions per target.

import { readFileSync } from 'node:fs';
import { FEDERATION, example, execute, fixture } from './harness.mjs';

const PRICE = {
  transition: 0.025 / 1000, // Step Functions Standard, per state transition
  gbSecondArm: 0.0000133334, // Lambda arm64, per GB-second
  request: 0.2 / 1_000_000, // Lambda, per request
};
// As infra/lib/stackfleet.ts sets them (WORKER_MEMORY_MB, LISTER_REDUCER_MEMORY_MB).
const WORKER_GB = 128 / 1024;
const OTHER_GB = 256 / 1024;
const WORKER_STATES = new Set(['Start', 'Poll', 'RecordFailure']);

const state = JSON.parse(readFileSync(process.env.STACKFLEET_E2E_STATE, 'utf8'));
const input = fixture('execution-input-pipeline.json');
input.stackName = 'org-federation';
input.template = FEDERATION;
input.parameters = example('federation/rollout.yaml').parameters;
input.capabilities = ['CAPABILITY_NAMED_IAM'];
input.targets = { ...input.targets, ous: [state.root], exclude: [] };
// The default (the suite's stored default spec says 1 s).
input.pollIntervalSeconds = 10;
// One at a time: cargo lambda watch runs one instance per function, so concurrent invocations
// would queue and the time measured here would include the queue, which AWS does not bill.
input.concurrency = 1;

// The Waits are not waited out here: a Wait costs its transition whatever its length.
const run = await execute(input, 'cost', process.env.STACKFLEET_LAMBDA, {}, { waits: { Wait: 0 } });
if (run.status !== 'SUCCEEDED') throw new Error(`the cost run failed: ${run.cause}`);
const targets = run.calls.find((c) => c.state === 'Discover').output.targets;
const billed = run.events.filter((e) => e.type === 'StateEntered' || e.type === 'StateRetried');
const inMap = billed.filter((e) => e.index !== undefined);
const entered = (name) => inMap.filter((e) => e.state?.name === name).length;
const workerCalls = run.calls.filter((c) => WORKER_STATES.has(c.state));
const otherCalls = run.calls.filter((c) => !WORKER_STATES.has(c.state));
const ms = (calls) => calls.reduce((sum, c) => sum + c.ms, 0);

// One round of a target still running: Wait, Poll, and the Choice after it (every Done? but the
// first of each target, which follows Start).
const polls = entered('Poll');
const roundTransitions = entered('Wait') + entered('Poll') + entered('Done?') - targets;
const measured = {
  targets,
  transitionsPerTarget: billed.length / targets,
  mapTransitionsPerTarget: inMap.length / targets,
  transitionsPerRound: roundTransitions / polls,
  // A target done in its first invocation: the Map's transitions without the rounds.
  firstInvocationTransitions: (inMap.length - roundTransitions) / targets,
  executionTransitionsPerTarget: (billed.length - inMap.length) / targets,
  workerInvocationsPerTarget: workerCalls.length / targets,
  workerMsPerInvocation: ms(workerCalls) / workerCalls.length,
  executionLambdaMsPerTarget: ms(otherCalls) / targets,
  executionInvocationsPerTarget: otherCalls.length / targets,
  pollIntervalSeconds: input.pollIntervalSeconds,
};
const dollarsPer1000 = ({ transitions, workerSeconds, workerInvocations }) =>
  1000 *
  (transitions * PRICE.transition +
    workerSeconds * WORKER_GB * PRICE.gbSecondArm +
    (measured.executionLambdaMsPerTarget / 1000) * OTHER_GB * PRICE.gbSecondArm +
    (workerInvocations + measured.executionInvocationsPerTarget) * PRICE.request);

measured.lambdaMsPerTarget = (ms(workerCalls) + ms(otherCalls)) / targets;
measured.dollarsPer1000Targets = dollarsPer1000({
  transitions: measured.transitionsPerTarget,
  workerSeconds: ms(workerCalls) / 1000 / targets,
  workerInvocations: measured.workerInvocationsPerTarget,
});

const longRuns = process.env.STACKFLEET_LONG_OPERATIONS;
measured.long = !longRuns
  ? []
  : readFileSync(longRuns, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .map((op) => {
        const transitions =
          measured.executionTransitionsPerTarget + measured.firstInvocationTransitions + op.waits * measured.transitionsPerRound;
        const workerSeconds = op.insideSeconds + (op.invocations * measured.workerMsPerInvocation) / 1000;
        return {
          ...op,
          transitions,
          workerSeconds,
          dollarsPer1000Targets: dollarsPer1000({ transitions, workerSeconds, workerInvocations: op.invocations }),
        };
      });
console.log(JSON.stringify(measured));
