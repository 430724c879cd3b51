import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultSpecJson, MAX_DEFAULT_SPEC_BYTES, validateDefaultSpec } from '../lib/default-spec';
import { RolloutSchema } from '../lib/rollout-schema';
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
      const written = readJson<Document>(path.join(REPO, fixture));
      expect(RolloutSchema.load().problems(written)).toEqual([]);
      // What the serverless path adds to the schema: a template in S3, and no administrator
      // role on a machine that takes any input (these fixtures name none, or the default one).
      const document = { ...written, template: { url: 'https://stackfleet-templates-111111111111.s3.us-east-1.amazonaws.com/t.yaml' } };
      expect(() => validateDefaultSpec(document)).not.toThrow();
      const { template, stack } = synth({ defaultSpec: document, allowAdminDeployRole: true });
      const lister = template.toJSON().Resources[logicalId(stack.fleet.lister)];
      expect(JSON.parse(lister.Properties.Environment.Variables.STACKFLEET_DEFAULT_SPEC)).toEqual(document);
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

  test('WHEN the default names no deploy role (and admin roles are allowed) THEN the worker may assume OrganizationAccountAccessRole, the one the lister will use', () => {
    const { deployRole: _none, ...document } = exampleSpec();
    const { template, stack } = synth({ defaultSpec: document, allowAdminDeployRole: true });
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
    ['a template body', { defaultSpec: { ...spec, template: { body: 'Resources: {}' } } }, /^defaultSpec: template\.body: the serverless path deploys templates from S3, each run pinned to one version of the object: upload it to the template bucket .* and give template\.url$/],
    ['a template URL that is not S3', { defaultSpec: { ...spec, template: { url: 'https://example.com/t.yaml' } } }, /^defaultSpec: template\.url: "https:\/\/example\.com\/t\.yaml" is not the URL of an S3 object: give https:\/\/BUCKET\.s3\.REGION\.amazonaws\.com\/KEY$/],
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

  /** The example spec with a parameter that makes its JSON exactly `bytes` long. */
  const specOf = (bytes: number): Document => {
    const fixed = defaultSpecJson({ ...spec, parameters: { ...(spec.parameters as Document), Padding: '' } }).length;
    return { ...spec, parameters: { ...(spec.parameters as Document), Padding: 'x'.repeat(bytes - fixed) } };
  };

  test('WHEN the spec does not fit in the Lambda environment beside the other variables THEN synth stops and says what to do', () => {
    expect(() => synth({ defaultSpec: specOf(MAX_DEFAULT_SPEC_BYTES + 1) })).toThrow(
      new RegExp(`^defaultSpec: \\(document\\): as JSON it is ${MAX_DEFAULT_SPEC_BYTES + 1} bytes, over the ${MAX_DEFAULT_SPEC_BYTES} bytes left of Lambda's 4 KB environment: shorten it`),
    );
  });

  test('WHEN the spec just fits THEN the lister’s whole environment, at its largest, is within 4 KB', () => {
    const defaultSpec = specOf(MAX_DEFAULT_SPEC_BYTES);
    expect(defaultSpecJson(defaultSpec).length).toBe(MAX_DEFAULT_SPEC_BYTES);
    // The longest input-field list a tag holds, a 63-character bucket name, accept=new-account.
    const fields = ['targets', 'concurrency', 'failureTolerance', 'waves'];
    for (let i = 0; fields.join(' ').length < 240; i++) fields.push(`parameters.P${String(i).padStart(8, '0')}`);
    const { template, stack } = synth({ defaultSpec, inputFields: fields, accept: 'new-account' });
    const variables = template.toJSON().Resources[logicalId(stack.fleet.lister)].Properties.Environment.Variables as Record<string, unknown>;
    const bytes = Object.entries(variables)
      .map(([name, value]) => name.length + (name === 'STACKFLEET_BUCKET' ? 63 : String(value).length))
      .reduce((sum, size) => sum + size, 0);
    expect(bytes).toBeLessThanOrEqual(4096);
    expect(bytes).toBeGreaterThan(4096 - 20);
  });
});

describe('GIVEN the schema the default spec is checked against', () => {
  test('WHEN the schema has not been generated THEN validation says how to generate it', () => {
    const absent = path.join(REPO, 'schema', 'not-generated.schema.json');
    expect(() => validateDefaultSpec(exampleSpec(), absent)).toThrow(/is missing or empty: generate it with `cargo run -q -- schema/);
  });
});

describe('GIVEN the README, "Deploying to a real Organization"', () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Deploying to a real Organization'), readme.indexOf('## Security model'));

  test('THEN the size limit it states is the one synth applies', () => {
    expect(section).toContain(`refuses a spec over ${MAX_DEFAULT_SPEC_BYTES.toLocaleString('en-US')} bytes`);
  });

  test('THEN it names every context key the app reads', () => {
    const app = fs.readFileSync(path.join(REPO, 'infra/bin/stackfleet.ts'), 'utf8');
    const keys = [...new Set([...app.matchAll(/\b(?:context|list)\('(\w+)'\)/g)].map(([, key]) => key))];
    expect(keys.length).toBeGreaterThan(10);
    expect(keys.filter((key) => !section.includes(`\`${key}\``) && !section.includes(`-c ${key}=`))).toEqual([]);
  });
});
