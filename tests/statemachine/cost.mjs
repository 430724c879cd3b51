// Serverless cost, measured (a benchmark, not a test): one execution over every account of the
// moto Organization, counting state transitions (states entered, retries included, as Standard
// workflows bill them) and Lambda time, turned into dollars at published us-east-1 prices.
// Run by `scripts/statemachine-test --cost N` from `scripts/bench`.

import { readFileSync } from 'node:fs';
import { FEDERATION, example, execute, fixture } from './harness.mjs';

const PRICE = {
  transition: 0.025 / 1000, // Step Functions Standard, per state transition
  gbSecondArm: 0.0000133334, // Lambda arm64, per GB-second
  request: 0.2 / 1_000_000, // Lambda, per request
};
const MEMORY_GB = 128 / 1024;

const state = JSON.parse(readFileSync(process.env.STACKFLEET_E2E_STATE, 'utf8'));
const input = fixture('execution-input-pipeline.json');
input.stackName = 'org-federation';
input.template = FEDERATION;
input.parameters = example('federation/rollout.yaml').parameters;
input.capabilities = ['CAPABILITY_NAMED_IAM'];
input.targets = { ...input.targets, ous: [state.root], exclude: [] };
// One at a time: cargo lambda watch runs one instance per function, so concurrent invocations
// would queue and the time measured here would include the queue, which AWS does not bill.
input.concurrency = 1;

const run = await execute(input, 'cost', process.env.STACKFLEET_LAMBDA);
if (run.status !== 'SUCCEEDED') throw new Error(`the cost run failed: ${run.cause}`);
const targets = run.calls.find((c) => c.state === 'Discover').output.targets;
const transitions = run.events.filter((e) => e.type === 'StateEntered' || e.type === 'StateRetried').length;
const perTarget = run.events.filter((e) => (e.type === 'StateEntered' || e.type === 'StateRetried') && e.index !== undefined).length / targets;
const lambdaMs = run.calls.reduce((sum, c) => sum + c.ms, 0);
const invocations = run.calls.length;
const dollars = (transitions * PRICE.transition + (lambdaMs / 1000) * MEMORY_GB * PRICE.gbSecondArm + invocations * PRICE.request) / targets * 1000;
console.log(JSON.stringify({
  targets,
  transitionsPerTarget: transitions / targets,
  mapTransitionsPerTarget: perTarget,
  lambdaMsPerTarget: lambdaMs / targets,
  invocationsPerTarget: invocations / targets,
  pollIntervalSeconds: input.pollIntervalSeconds,
  dollarsPer1000Targets: dollars,
}));
