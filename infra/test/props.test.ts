import * as fs from 'node:fs';
import * as path from 'node:path';
import { DefaultSpec, defaultSpecJson, MAX_DEFAULT_SPEC_BYTES, validateDefaultSpec } from '../lib/default-spec';
import { exampleSpec, readJson, REPO, synth } from './support';

/** Field names a Rust struct deserializes (camelCase), read from its source. */
function rustFields(file: string, struct: string): string[] {
  const source = fs.readFileSync(path.join(REPO, file), 'utf8');
  const body = new RegExp(`pub struct ${struct} \\{([\\s\\S]*?)\\n\\}`).exec(source)![1];
  return [...body.matchAll(/^\s*pub (\w+):/gm)].map(([, name]) => name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()));
}

describe('GIVEN the default spec as the lister reads it', () => {
  test('THEN it emits only fields the Rust side knows (RolloutSpec is deny_unknown_fields)', () => {
    const known = new Set([
      ...rustFields('crates/core/src/spec.rs', 'RolloutSpec'),
      'targets',
      'concurrency',
      'toleratedFailurePercentage',
    ]);
    const targets = new Set(rustFields('crates/lambda/src/input.rs', 'TargetsInput'));
    const deployRole = new Set(rustFields('crates/core/src/spec.rs', 'DeployRole'));
    const full: DefaultSpec = {
      ...exampleSpec(),
      deployRole: { name: 'stackfleet-deploy', externalId: 'x' },
      targets: { ous: ['r-ab12'], accounts: ['123456789012'], regions: ['eu-west-1'], tags: { env: 'prod' }, exclude: [] },
    };
    const json = JSON.parse(defaultSpecJson(full));
    expect(Object.keys(json).filter((key) => !known.has(key))).toEqual([]);
    expect(Object.keys(json.targets).filter((key) => !targets.has(key))).toEqual([]);
    expect(Object.keys(json.deployRole).filter((key) => !deployRole.has(key))).toEqual([]);
  });

  test('THEN the fixture the Rust tests use comes out as it went in', () => {
    const { pollIntervalSeconds: _notAProp, ...fixture } = readJson<Record<string, unknown>>(
      path.join(REPO, 'tests/fixtures/default-spec.json'),
    );
    expect(JSON.parse(defaultSpecJson(fixture as unknown as DefaultSpec))).toEqual(fixture);
  });

  test('THEN the example specs are valid', () => {
    expect(() => validateDefaultSpec(exampleSpec())).not.toThrow();
    const bootstrap = readJson<DefaultSpec>(path.join(REPO, 'examples/bootstrap/new-account-spec.json'));
    expect(() => validateDefaultSpec(bootstrap)).not.toThrow();
  });
});

describe('GIVEN props the stack cannot work with', () => {
  const spec = exampleSpec();
  test.each<[string, Parameters<typeof synth>[0], RegExp]>([
    ['a malformed Organization ID', { organizationId: 'abc123' }, /organizationId "abc123" is not an Organization ID/],
    ['an Organization ID in capitals', { organizationId: 'o-ABC123DEFG' }, /is not an Organization ID/],
    ['no regions', { defaultSpec: { ...spec, targets: { ...spec.targets, regions: [] } } }, /targets\.regions is empty/],
    ['no stack name', { defaultSpec: { ...spec, stackName: '' } }, /stackName is missing/],
    ['no deploy role', { defaultSpec: { ...spec, deployRole: { name: '' } } }, /deployRole\.name is missing/],
    ['a deploy role ARN for a name', { defaultSpec: { ...spec, deployRole: { name: 'arn:aws:iam::1:role/x' } } }, /not an IAM role name/],
    ['both a template URL and body', { defaultSpec: { ...spec, template: { url: 'https://x', body: 'y' } as never } }, /exactly one of url or body/],
    ['an http template URL', { defaultSpec: { ...spec, template: { url: 'http://bucket/t.yaml' } } }, /must be an https:\/\/ URL/],
    ['a tolerance over 100', { defaultSpec: { ...spec, toleratedFailurePercentage: 150 } }, /toleratedFailurePercentage/],
    ['an operator that is neither account nor ARN', { operatorPrincipals: ['alice'] }, /operatorPrincipals: "alice"/],
    ['a retention of zero days', { runRetentionDays: 0 }, /runRetentionDays/],
  ])('WHEN given %s THEN synth stops with a message that names it', (_case, props, message) => {
    expect(() => synth(props)).toThrow(message);
  });

  test('WHEN the spec does not fit in the Lambda environment THEN synth stops and says to use a URL', () => {
    const body = `Resources:\n  Marker:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Value: "${'x'.repeat(4000)}"\n`;
    expect(() => synth({ defaultSpec: { ...spec, template: { body } } })).toThrow(
      new RegExp(`bytes, over the ${MAX_DEFAULT_SPEC_BYTES} bytes left of Lambda's 4 KB environment: upload the template to S3`),
    );
  });

  test('WHEN the spec just fits THEN synth goes through', () => {
    const fixed = defaultSpecJson({ ...spec, template: { body: '' } }).length;
    const body = 'x'.repeat(MAX_DEFAULT_SPEC_BYTES - fixed);
    expect(defaultSpecJson({ ...spec, template: { body } }).length).toBe(MAX_DEFAULT_SPEC_BYTES);
    expect(() => validateDefaultSpec({ ...spec, template: { body } })).not.toThrow();
  });
});
