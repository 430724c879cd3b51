import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, example, execute, fixture } from './harness.mjs';
const state = JSON.parse(readFileSync(process.env.STACKFLEET_E2E_STATE, 'utf8'));
const input = fixture('execution-input-pipeline.json');
input.stackName = 'org-probe';
input.template = { body: readFileSync(join(ROOT, 'examples/federation/template.yaml'), 'utf8') };
input.parameters = example('federation/rollout.yaml').parameters;
input.capabilities = ['CAPABILITY_NAMED_IAM'];
input.targets = { ...input.targets, ous: [state.ous.Prod], exclude: [] };
const run = await execute(input, 'probe-1', process.env.STACKFLEET_LAMBDA);
const counts = {};
for (const c of run.calls) {
  const key = `${c.state}:${c.output ? (c.output.done === undefined ? 'out' : (c.output.done ? 'done' : 'handback')) : c.error}`;
  counts[key] = (counts[key] ?? 0) + 1;
}
console.log(run.status, JSON.stringify(counts));
console.log('a hand-back:', JSON.stringify(run.calls.find((c) => c.output && c.output.done === false)?.output));
