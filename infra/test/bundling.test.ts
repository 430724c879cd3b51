/**
 * Whether synth builds the Rust functions, seen from outside: test/fake-cargo.ts puts a `cargo`
 * first on PATH that records how it is called. Each synth here writes to its own directory, and
 * a build names that directory in --lambda-dir, so other test files' calls are told apart.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { StackfleetStack } from '../lib/stackfleet-stack';
import { exampleSpec, ORGANIZATION_ID } from './support';

describe('GIVEN a cargo that only records its calls', () => {
  const outdirs: string[] = [];
  afterAll(() => outdirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
  const synthInto = (context: Record<string, unknown>) => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'stackfleet-synth-'));
    outdirs.push(outdir);
    const app = new App({ context, outdir });
    const stack = new StackfleetStack(app, 'Stackfleet', { fleet: { organizationId: ORGANIZATION_ID, defaultSpec: exampleSpec() } });
    const template = Template.fromStack(stack);
    const builds = fs
      .readFileSync(process.env.STACKFLEET_FAKE_CARGO_LOG!, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('lambda build') && line.includes(outdir))
      .map((line) => line.replace(/--lambda-dir \S+/, '--lambda-dir DIR'));
    return { template, builds };
  };

  test('WHEN aws:cdk:bundling-stacks is empty (the tests, and -c skipBundling=true) THEN synth builds nothing', () => {
    expect(synthInto({ 'aws:cdk:bundling-stacks': [] }).builds).toEqual([]);
  });

  test('WHEN bundling is left on, as cdk deploy leaves it, THEN each binary is built for arm64, in release, from stackfleet-lambda', () => {
    const { template, builds } = synthInto({});
    expect(builds.sort()).toEqual(
      ['lister', 'reducer', 'worker'].map(
        (bin) => `lambda build --lambda-dir DIR --release --arm64 --bin ${bin} --flatten ${bin} --package stackfleet-lambda`,
      ),
    );
    // Each function's code is then the built bootstrap (the same fake one here), not the source tree.
    const codeKeys = Object.values(template.findResources('AWS::Lambda::Function')).map((fn) => fn.Properties.Code.S3Key);
    expect(new Set(codeKeys).size).toBe(1);
  });
});
