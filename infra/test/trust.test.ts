/**
 * The machine's trust boundary as the CDK app sets it: what an execution input may change, which
 * inputs the machine takes, which role it deploys with, and what the lister and the worker may read.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { RolloutSchema } from '../lib/rollout-schema';
import { checkInputFields, DEFAULT_INPUT_FIELDS } from '../lib/trust';
import { bootstrapSpec, exampleSpec, INFRA, logicalId, resourcesOf, Statement, statementsByRole, synth } from './support';

type Document = Record<string, unknown>;

/** The lister's environment and the state machine's tags. */
function settings(props: Parameters<typeof synth>[0]) {
  const { template, stack } = synth(props);
  const resources = template.toJSON().Resources;
  const environment = resources[logicalId(stack.fleet.lister)].Properties.Environment.Variables as Record<string, string>;
  const tags = Object.fromEntries(
    (resources[logicalId(stack.fleet.stateMachine)].Properties.Tags as { Key: string; Value: unknown }[]).map((tag) => [tag.Key, tag.Value]),
  );
  return { environment, tags, template, stack };
}

describe('GIVEN the fields an execution input may change (inputFields)', () => {
  test('WHEN none are given THEN targets, concurrency, failureTolerance and waves, to the lister and as a tag, space-separated', () => {
    const { environment, tags } = settings({});
    expect(environment.STACKFLEET_INPUT_FIELDS).toBe('targets concurrency failureTolerance waves');
    expect(tags['stackfleet:input-fields']).toBe('targets concurrency failureTolerance waves');
    expect(DEFAULT_INPUT_FIELDS).toEqual(['targets', 'concurrency', 'failureTolerance', 'waves']);
  });

  test('WHEN top-level fields and parameters.NAME are given THEN they are passed on as given, once each', () => {
    const { environment, tags } = settings({ inputFields: ['targets', 'parameters.SamlMetadataDocument', 'tags', 'targets'] });
    expect(environment.STACKFLEET_INPUT_FIELDS).toBe('targets parameters.SamlMetadataDocument tags');
    expect(tags['stackfleet:input-fields']).toBe('targets parameters.SamlMetadataDocument tags');
  });

  test('THEN every top-level field of the rollout document may be named, as the schema has them', () => {
    const fields = RolloutSchema.load().topLevelFields().filter((field) => field !== '$schema');
    expect(fields).toEqual(expect.arrayContaining(['template', 'parameters', 'deployRole', 'capabilities', 'targets', 'waves']));
    for (const field of fields) expect(checkInputFields([field])).toEqual([field]);
  });

  test.each<[string, string[], RegExp]>([
    ['a misspelt field', ['targets', 'templat'], /^inputFields: "templat" is not a field of the rollout document: give top-level fields \(.*template.*\) or parameters\.NAME$/],
    ['a field in the wrong case', ['Concurrency'], /^inputFields: "Concurrency" is not a field of the rollout document \(did you mean concurrency\?\)/],
    ['a nested field other than a parameter', ['targets.accounts'], /^inputFields: "targets\.accounts" is not a field/],
    ['the schema pointer', ['$schema'], /^inputFields: "\$schema" is not a field/],
    ['a parameter name CloudFormation refuses', ['parameters.Saml-Metadata'], /^inputFields: "parameters\.Saml-Metadata": a CloudFormation parameter name is letters and digits only$/],
    ['* beside other fields', ['*', 'targets'], /^inputFields: \* means every field: give it alone, not with targets$/],
    ['the app\'s word none, to the construct', ['none'], /^inputFields: none is the app's word for no field/],
  ])('WHEN given %s THEN synth stops and names it', (_case, inputFields, message) => {
    expect(() => synth({ inputFields })).toThrow(message);
  });

  test('WHEN * THEN every field to the lister, a tag value Step Functions takes, and a synth warning', () => {
    const { environment, tags, stack } = settings({ inputFields: ['*'] });
    expect(environment.STACKFLEET_INPUT_FIELDS).toBe('*');
    expect(tags['stackfleet:input-fields']).toBe('all-fields');
    // Step Functions tag values: letters, digits, white space and _ . : / = + - @ only.
    expect(tags['stackfleet:input-fields']).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u);
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('inputFields is \\*'));
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0].entry.data)).toMatch(/StartExecution on this machine is as strong as its deploy role in every account/);
    // The named fields warn of nothing.
    expect(Annotations.fromStack(settings({}).stack).findWarning('*', Match.stringLikeRegexp('inputFields'))).toEqual([]);
  });

  test('WHEN an empty list THEN no change is accepted: an empty list to the lister, a blank tag (start: "no change to its default spec")', () => {
    const { environment, tags, stack } = settings({ inputFields: [] });
    expect(environment.STACKFLEET_INPUT_FIELDS).toBe('');
    // One space: CloudFormation's schema refuses an empty tag value; start trims it to nothing.
    expect(tags['stackfleet:input-fields']).toBe(' ');
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });

  test('WHEN the fields do not fit in a tag value THEN synth stops and says what to do', () => {
    const many = Array.from({ length: 30 }, (_, i) => `parameters.Parameter${i}`);
    expect(() => synth({ inputFields: many })).toThrow(/^inputFields: \d+ characters .* over the 256 a tag value holds: name fewer fields/);
  });
});

describe('GIVEN the inputs the machine accepts (accept)', () => {
  test('WHEN not given THEN any, to the lister and as a tag', () => {
    const { environment, tags } = settings({});
    expect([environment.STACKFLEET_ACCEPT, tags['stackfleet:accept']]).toEqual(['any', 'any']);
  });

  test('WHEN new-account THEN the bootstrap spec may deploy through OrganizationAccountAccessRole, and says so to the lister and in a tag', () => {
    const { environment, tags, template, stack } = settings({ defaultSpec: bootstrapSpec(), accept: 'new-account' });
    expect([environment.STACKFLEET_ACCEPT, tags['stackfleet:accept']]).toEqual(['new-account', 'new-account']);
    const worker = statementsByRole(template).get(logicalId(stack.fleet.workerRole))!;
    expect(resourcesOf(worker, 'sts:AssumeRole')).toEqual(['arn:<AWS::Partition>:iam::*:role/OrganizationAccountAccessRole']);
  });

  test('WHEN anything else THEN synth stops and names both values', () => {
    expect(() => synth({ accept: 'new-accounts' as never })).toThrow(/^accept "new-accounts" must be "any" or "new-account"/);
  });
});

describe('GIVEN an administrator role as the deploy role of a machine that accepts any input', () => {
  const spec = exampleSpec();
  const { deployRole: _none, ...withoutDeployRole } = spec;
  test.each<[string, Document, RegExp]>([
    ['OrganizationAccountAccessRole', { ...spec, deployRole: { name: 'OrganizationAccountAccessRole' } }, /deployRole\.name is OrganizationAccountAccessRole, an administrator role/],
    ['AWSControlTowerExecution', { ...spec, deployRole: { name: 'AWSControlTowerExecution' } }, /deployRole\.name is AWSControlTowerExecution, an administrator role/],
    ['no deploy role (the default)', withoutDeployRole, /deployRole is absent, and the default is OrganizationAccountAccessRole, an administrator role/],
  ])('WHEN it is %s THEN synth stops, says why and what to do', (_case, defaultSpec, named) => {
    let message = '';
    try {
      synth({ defaultSpec });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(named);
    expect(message).toMatch(/anyone who may start this machine would deploy anything, as administrator, everywhere/);
    expect(message).toMatch(/stackfleet deploy --spec examples\/bootstrap\/rollout\.yaml/);
    expect(message).toMatch(/-c accept=new-account/);
    expect(message).toMatch(/-c allowAdminDeployRole=true/);
  });

  test('WHEN allowAdminDeployRole is set THEN synth goes through', () => {
    expect(() => synth({ defaultSpec: { ...spec, deployRole: { name: 'OrganizationAccountAccessRole' } }, allowAdminDeployRole: true })).not.toThrow();
  });

  test('WHEN the role only shares a prefix with one THEN it is not taken for it', () => {
    expect(() => synth({ defaultSpec: { ...spec, deployRole: { name: 'OrganizationAccountAccessRoleReadOnly' } } })).not.toThrow();
  });
});

describe('GIVEN the templates the lister reads', () => {
  const templateReads = (props: Parameters<typeof synth>[0]) => {
    const { template, stack } = synth(props);
    const lister = statementsByRole(template).get(logicalId(stack.fleet.lister.role!))!;
    const reads = (action: string) => resourcesOf(lister, action).filter((arn) => !arn.startsWith('<'));
    expect(reads('s3:GetObjectVersion')).toEqual(reads('s3:GetObject'));
    return reads('s3:GetObjectVersion');
  };

  test('WHEN an input may not name a template THEN the default spec’s object alone, by its key', () => {
    expect(templateReads({})).toEqual(['arn:<AWS::Partition>:s3:::stackfleet-templates-111111111111/federation/template.yaml']);
  });

  test('WHEN it may (template in inputFields) THEN any object of the default’s bucket and of templateBucketNames', () => {
    expect(templateReads({ inputFields: ['template', 'targets'], templateBucketNames: ['team-templates'] })).toEqual([
      'arn:<AWS::Partition>:s3:::stackfleet-templates-111111111111/*',
      'arn:<AWS::Partition>:s3:::team-templates/*',
    ]);
  });

  test('WHEN every field may change (*) THEN the template too: any object of the default’s bucket', () => {
    expect(templateReads({ inputFields: ['*'] })).toEqual(['arn:<AWS::Partition>:s3:::stackfleet-templates-111111111111/*']);
  });

  test('WHEN the URL is path-style or URL-encoded THEN the bucket and the key are read from it', () => {
    const url = 'https://s3.eu-west-1.amazonaws.com/eu-templates/base%20line/t.yaml';
    expect(templateReads({ defaultSpec: { ...exampleSpec(), template: { url } } })).toEqual([
      'arn:<AWS::Partition>:s3:::eu-templates/base line/t.yaml',
    ]);
  });

  test('WHEN a template bucket name is not one THEN synth stops', () => {
    expect(() => synth({ templateBucketNames: ['Team_Templates'] })).toThrow(/^templateBucketNames: "Team_Templates" is not an S3 bucket name$/);
  });
});

describe('GIVEN parameters given by reference (secretPrefix, secretKmsKeyArns)', () => {
  const workerOf = (props: Parameters<typeof synth>[0]): Statement[] => {
    const { template, stack } = synth(props);
    return statementsByRole(template).get(logicalId(stack.fleet.workerRole))!;
  };
  const here = (service: string, resource: string) => `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${resource}`;

  test('WHEN a prefix is given THEN the worker reads only parameters and secrets under it', () => {
    const worker = workerOf({ secretPrefix: 'platform/stackfleet/' });
    expect(resourcesOf(worker, 'ssm:GetParameter')).toEqual([here('ssm', 'parameter/platform/stackfleet/*')]);
    expect(resourcesOf(worker, 'secretsmanager:GetSecretValue')).toEqual([here('secretsmanager', 'secret:platform/stackfleet/*')]);
  });

  test('WHEN customer managed keys are given THEN the worker may decrypt with them only through SSM or Secrets Manager', () => {
    const key = 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const decrypt = workerOf({ secretKmsKeyArns: [key] }).filter((s) => ([] as string[]).concat(s.Action).includes('kms:Decrypt'));
    expect(decrypt).toHaveLength(1);
    expect(decrypt[0].Resource).toBe(key);
    const via = (decrypt[0].Condition!.StringEquals['kms:ViaService'] as unknown[]).map((value) => JSON.stringify(value));
    expect(via).toHaveLength(2);
    expect(via[0]).toMatch(/ssm\./);
    expect(via[1]).toMatch(/secretsmanager\./);
    expect(workerOf({}).flatMap((s) => ([] as string[]).concat(s.Action)).filter((action) => action.startsWith('kms:'))).toEqual([]);
  });

  test.each<[string, Parameters<typeof synth>[0], RegExp]>([
    ['a prefix with a leading slash', { secretPrefix: '/stackfleet/' }, /^secretPrefix "\/stackfleet\/": give it without the leading \/ \(stackfleet\/\)/],
    ['an empty prefix', { secretPrefix: '' }, /^secretPrefix "" must be .* not empty: an empty prefix would let the worker read every parameter and secret/],
    ['a wildcard prefix', { secretPrefix: '*' }, /^secretPrefix "\*" must be letters/],
    ['a prefix without its trailing slash', { secretPrefix: 'platform/stackfleet' }, /^secretPrefix "platform\/stackfleet": end it with \/ \(platform\/stackfleet\/\): .*\/platform\/stackfleet-prod\//],
    ['an alias for a key', { secretKmsKeyArns: ['arn:aws:kms:us-east-1:111111111111:alias/stackfleet'] }, /^secretKmsKeyArns: .* is not a KMS key ARN .*an alias ARN does not match/],
  ])('WHEN given %s THEN synth stops and names it', (_case, props, message) => {
    expect(() => synth(props)).toThrow(message);
  });
});

describe('GIVEN the CDK app itself (bin/stackfleet.ts), run as cdk synth runs it', () => {
  const app = (context: Record<string, string>) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'stackfleet-synth-'));
    try {
      execFileSync(path.join(INFRA, 'node_modules/.bin/ts-node'), ['--transpile-only', '--prefer-ts-exts', 'bin/stackfleet.ts'], {
        cwd: INFRA,
        env: {
          ...process.env,
          CDK_OUTDIR: out,
          CDK_CONTEXT_JSON: JSON.stringify({ organizationId: 'o-abc123defg', skipBundling: 'true', ...context }),
        },
        stdio: 'pipe',
      });
      return { template: JSON.parse(fs.readFileSync(path.join(out, 'Stackfleet.template.json'), 'utf8')), error: '' };
    } catch (error) {
      return { template: undefined, error: String((error as { stderr?: Buffer }).stderr ?? error) };
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  };

  test('WHEN the bootstrap machine is synthesized with accept=new-account and comma-separated fields THEN the state machine says so in its tags', () => {
    const { template, error } = app({
      defaultSpecFile: '../examples/bootstrap/new-account-spec.json',
      accept: 'new-account',
      inputFields: 'targets, concurrency',
    });
    expect(error).toBe('');
    const machine = Object.values(template.Resources as Record<string, { Type: string; Properties: { Tags: unknown[] } }>).find(
      (resource) => resource.Type === 'AWS::StepFunctions::StateMachine',
    )!;
    expect(machine.Properties.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'stackfleet:accept', Value: 'new-account' },
        { Key: 'stackfleet:input-fields', Value: 'targets concurrency' },
      ]),
    );
  });

  test('WHEN -c inputFields=none THEN no change is accepted; WHEN -c inputFields=* THEN every field, and synth goes through', () => {
    const tagOf = (template: { Resources: Record<string, { Type: string; Properties: { Tags: { Key: string; Value: string }[] } }> }) =>
      Object.values(template.Resources)
        .find((resource) => resource.Type === 'AWS::StepFunctions::StateMachine')!
        .Properties.Tags.find((tag) => tag.Key === 'stackfleet:input-fields')!.Value;
    const none = app({ inputFields: 'none' });
    expect(none.error).toBe('');
    expect(tagOf(none.template)).toBe(' ');
    const every = app({ inputFields: '*' });
    expect(every.error).toBe('');
    expect(tagOf(every.template)).toBe('all-fields');
  });

  test('WHEN that spec is synthesized without accept=new-account THEN the app refuses it and says what to do', () => {
    const { error } = app({ defaultSpecFile: '../examples/bootstrap/new-account-spec.json', allowAdminDeployRole: 'yes' });
    expect(error).toMatch(/allowAdminDeployRole "yes" must be true or false/);
    expect(app({ defaultSpecFile: '../examples/bootstrap/new-account-spec.json' }).error).toMatch(
      /deployRole\.name is OrganizationAccountAccessRole, an administrator role[\s\S]*-c accept=new-account/,
    );
  });
});
