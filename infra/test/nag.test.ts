import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { SynthesisMessage } from 'aws-cdk-lib/cx-api';
import * as iam from 'aws-cdk-lib/aws-iam';
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { StackfleetStack } from '../lib/stackfleet-stack';
import { bootstrapSpec, exampleSpec, ORGANIZATION_ID, synth } from './support';

const AWS_SOLUTIONS = Match.stringLikeRegexp('AwsSolutions-.*');

interface Suppression {
  id: string;
  reason: string;
  applies_to?: unknown[];
}

describe.each([
  ['the minimal stack', {}],
  [
    'every optional part',
    {
      operatorPrincipals: ['222222222222'],
      alarmEmail: 'ops@example.com',
      templateBucketNames: ['team-templates'],
      inputFields: ['template', 'parameters.Env', 'targets'],
      secretPrefix: 'platform/stackfleet/',
      secretKmsKeyArns: ['arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
    },
  ],
  ['the bootstrap machine', { defaultSpec: bootstrapSpec(), accept: 'new-account' as const }],
])('GIVEN %s checked by cdk-nag AwsSolutions', (_name, props) => {
  let stack: StackfleetStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synth(props, { nag: true }));
  });

  test('THEN there is no finding left, error or warning', () => {
    const describe = (found: SynthesisMessage[]) => found.map((f) => `${f.id}: ${String(f.entry.data)}`);
    expect(describe(Annotations.fromStack(stack).findError('*', AWS_SOLUTIONS))).toEqual([]);
    expect(describe(Annotations.fromStack(stack).findWarning('*', AWS_SOLUTIONS))).toEqual([]);
  });

  test('THEN every suppression says why, and every IAM5 one names the wildcard it accepts', () => {
    const suppressions = Object.values(template.toJSON().Resources as Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress: Suppression[] } } }>)
      .flatMap((resource) => resource.Metadata?.cdk_nag?.rules_to_suppress ?? []);
    expect(suppressions.length).toBeGreaterThan(0);
    for (const suppression of suppressions) {
      expect(suppression.reason.length).toBeGreaterThanOrEqual(60);
      if (suppression.id === 'AwsSolutions-IAM5') expect(suppression.applies_to?.length).toBeGreaterThan(0);
    }
  });
});

describe('GIVEN a wildcard nobody accepted', () => {
  test('THEN cdk-nag reports it: the suppressions are narrow enough to catch it', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    Aspects.of(app).add(new AwsSolutionsChecks());
    const stack = new StackfleetStack(app, 'Stackfleet', {
      fleet: { organizationId: ORGANIZATION_ID, defaultSpec: exampleSpec() },
    });
    stack.fleet.workerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${stack.fleet.bucket.bucketArn}/*`] }),
    );
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-IAM5\\[Resource::<.*\\.Arn>/\\*\\].*'));
    expect(errors).toHaveLength(1);
  });
});
