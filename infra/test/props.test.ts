import * as path from 'node:path';
import { defaultSpecJson, MAX_DEFAULT_SPEC_BYTES, validateDefaultSpec } from '../lib/default-spec';
import { exampleSpec, logicalId, readJson, REPO, resourcesOf, statementsByRole, synth } from './support';

type Document = Record<string, unknown>;

/** What the stack hands the lister: STACKFLEET_DEFAULT_SPEC, parsed. */
function listerSees(defaultSpec: Document): unknown {
  const { template, stack } = synth({ defaultSpec });
  const lister = template.toJSON().Resources[logicalId(stack.fleet.lister)];
  return JSON.parse(lister.Properties.Environment.Variables.STACKFLEET_DEFAULT_SPEC);
}

describe('GIVEN rollout documents the Rust side writes and reads', () => {
  test.each(['tests/fixtures/default-spec.json', 'tests/fixtures/execution-input-pipeline.json'])(
    'WHEN %s is the default spec THEN it passes the schema and reaches the lister with every field as it was',
    (fixture) => {
      const document = readJson<Document>(path.join(REPO, fixture));
      expect(() => validateDefaultSpec(document)).not.toThrow();
      expect(listerSees(document)).toEqual(document);
      expect(JSON.parse(defaultSpecJson(document))).toEqual(document);
    },
  );

  test('THEN the example specs are valid', () => {
    expect(() => validateDefaultSpec(exampleSpec())).not.toThrow();
    const bootstrap = readJson<Document>(path.join(REPO, 'examples/bootstrap/new-account-spec.json'));
    expect(() => validateDefaultSpec(bootstrap)).not.toThrow();
  });

  test('THEN a document that points at the schema for editors is accepted and passed on as given', () => {
    const document = { $schema: '../schema/rollout.schema.json', ...exampleSpec() };
    expect(listerSees(document)).toEqual(document);
  });

  test('WHEN the default names no deploy role THEN the worker may assume OrganizationAccountAccessRole, the one the lister will use', () => {
    const { deployRole: _none, ...document } = exampleSpec();
    const { template, stack } = synth({ defaultSpec: document });
    const worker = statementsByRole(template).get(logicalId(stack.fleet.workerRole))!;
    expect(resourcesOf(worker, 'sts:AssumeRole')).toEqual([
      'arn:<AWS::Partition>:iam::*:role/OrganizationAccountAccessRole',
    ]);
  });
});

describe('GIVEN a default spec with a misspelt or retired field', () => {
  const spec = exampleSpec();
  const targets = spec.targets as Document;
  test.each<[string, Document, RegExp]>([
    ['the retired toleratedFailurePercentage', { ...spec, toleratedFailurePercentage: 5 }, /^defaultSpec: toleratedFailurePercentage: unknown field/m],
    ['targets.regoins', { ...spec, targets: { ...targets, regoins: ['us-east-1'] } }, /^defaultSpec: targets\.regoins: unknown field \(did you mean regions\?\)/m],
    ['deployRole.nmae', { ...spec, deployRole: { nmae: 'stackfleet-deploy' } }, /^defaultSpec: deployRole\.nmae: unknown field \(did you mean name\?\)/m],
    ['template.uri', { ...spec, template: { uri: 'https://bucket.s3.amazonaws.com/t.yaml' } }, /^defaultSpec: template: must have exactly one of body, url, file \(unknown: uri\)/m],
  ])('WHEN it has %s THEN synth stops, naming the field by its path', (_case, defaultSpec, message) => {
    expect(() => synth({ defaultSpec })).toThrow(message);
  });

  test('WHEN two fields are misspelt THEN synth names both', () => {
    const defaultSpec = { ...spec, stackNmae: 'x', targets: { ...targets, acounts: ['123456789012'] } };
    expect(() => synth({ defaultSpec })).toThrow(
      'defaultSpec: stackNmae: unknown field (did you mean stackName?)\n' +
        'defaultSpec: targets.acounts: unknown field (did you mean accounts?)',
    );
  });
});

describe('GIVEN props the stack cannot work with', () => {
  const spec = exampleSpec();
  const targets = spec.targets as Document;
  const { stackName: _stackName, ...withoutStackName } = spec;
  const { template: _template, ...withoutTemplate } = spec;
  test.each<[string, Parameters<typeof synth>[0], RegExp]>([
    ['a malformed Organization ID', { organizationId: 'abc123' }, /organizationId "abc123" is not an Organization ID/],
    ['an Organization ID in capitals', { organizationId: 'o-ABC123DEFG' }, /is not an Organization ID/],
    ['no stack name', { defaultSpec: withoutStackName }, /^defaultSpec: stackName: is missing/],
    ['a stack name CloudFormation refuses', { defaultSpec: { ...spec, stackName: '1st' } }, /^defaultSpec: stackName: "1st" must match pattern/],
    ['no template', { defaultSpec: withoutTemplate }, /^defaultSpec: template: is missing: give template\.url/],
    ['a template file', { defaultSpec: { ...spec, template: { file: 'template.yaml' } } }, /^defaultSpec: template\.file: a path means nothing to the Lambda.*give template\.url/],
    ['both a template URL and body', { defaultSpec: { ...spec, template: { url: 'https://b/t.yaml', body: 'y' } } }, /^defaultSpec: template: must have exactly one of body, url, file$/],
    ['an http template URL', { defaultSpec: { ...spec, template: { url: 'http://bucket/t.yaml' } } }, /^defaultSpec: template\.url: "http:\/\/bucket\/t\.yaml" must match pattern/],
    ['no regions', { defaultSpec: { ...spec, targets: { ...targets, regions: [] } } }, /^defaultSpec: targets\.regions: is empty/],
    ['a region in capitals', { defaultSpec: { ...spec, targets: { ...targets, regions: ['US-EAST-1'] } } }, /^defaultSpec: targets\.regions\[0\]: "US-EAST-1" must match pattern/],
    ['a deploy role ARN for a name', { defaultSpec: { ...spec, deployRole: { name: 'arn:aws:iam::1:role/x' } } }, /^defaultSpec: deployRole\.name: "arn:aws:iam::1:role\/x" must match pattern .*IAM role name/],
    ['a tolerance over 100%', { defaultSpec: { ...spec, failureTolerance: '150%' } }, /^defaultSpec: failureTolerance: "150%" must match pattern .*a count \(3\) or a percentage/],
    ['a concurrency of zero', { defaultSpec: { ...spec, concurrency: 0 } }, /^defaultSpec: concurrency: 0 must be >= 1/],
    ['an unknown capability', { defaultSpec: { ...spec, capabilities: ['CAPABILITY_ALL'] } }, /^defaultSpec: capabilities\[0\]: "CAPABILITY_ALL" must be "CAPABILITY_IAM" or/],
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

describe('GIVEN the schema the default spec is checked against', () => {
  test('WHEN the schema has not been generated THEN validation says how to generate it', () => {
    const absent = path.join(REPO, 'schema', 'not-generated.schema.json');
    expect(() => validateDefaultSpec(exampleSpec(), absent)).toThrow(/is missing or empty: generate it with `cargo run -q -- schema/);
  });
});
