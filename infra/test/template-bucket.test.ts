/**
 * examples/bootstrap/template-bucket.yaml: who may read and write templates, decided by an IAM
 * evaluator over the bucket policy CloudFormation would create, beside each caller's own policy.
 */
import { allowing, decide, Decision } from './iam-decision';
import { deployRolePolicies, MEMBER, ORGANIZATION_ID, STACKFLEET_ACCOUNT, TEMPLATE_BUCKET, templateBucketPolicy } from './member-account';

const OBJECT = `arn:aws:s3:::${TEMPLATE_BUCKET}/federation/template.yaml`;
const BOOTSTRAP_OBJECT = `arn:aws:s3:::${TEMPLATE_BUCKET}/bootstrap/deploy-role.yaml`;
const session = (account: string, role: string) => `arn:aws:sts::${account}:assumed-role/${role}/session`;
const roleArn = (account: string, role: string) => `arn:aws:iam::${account}:role/${role}`;
/** A principal that may do anything by its own policies: only the bucket policy can stop it. */
const ADMIN = [allowing(['*'])];

interface Caller {
  readonly account: string;
  readonly role: string;
  readonly identity?: Record<string, unknown>[];
  readonly organizationId?: string;
}

describe('GIVEN the template bucket with the defaults', () => {
  const { template, policy } = templateBucketPolicy();
  const request = (caller: Caller, action: string, resource: string, context: Record<string, string> = {}): Promise<Decision> =>
    decide(
      {
        principal: session(caller.account, caller.role),
        action,
        resource,
        resourceAccount: STACKFLEET_ACCOUNT,
        context: {
          'aws:PrincipalArn': roleArn(caller.account, caller.role),
          'aws:PrincipalOrgID': caller.organizationId ?? ORGANIZATION_ID,
          ...context,
        },
      },
      { identity: caller.identity ?? ADMIN, resource: policy },
    );
  const deployRole: Caller = { account: MEMBER, role: 'stackfleet-deploy', identity: deployRolePolicies().identity };

  test('THEN a deploy role of the Organization reads any template, and its pinned versions', async () => {
    expect(await request(deployRole, 's3:GetObjectVersion', OBJECT)).toBe('Allowed');
    expect(await request(deployRole, 's3:GetObject', OBJECT)).toBe('Allowed');
  });

  test('THEN another role of the Organization, in another account, reads nothing, however broad its own policies', async () => {
    for (const role of ['Developer', 'stackfleet-deploy-old', 'x-stackfleet-deploy']) {
      expect([role, await request({ account: MEMBER, role }, 's3:GetObjectVersion', OBJECT)]).toEqual([role, 'ImplicitlyDenied']);
    }
  });

  test('THEN a role named stackfleet-deploy outside the Organization reads nothing', async () => {
    const outsider: Caller = { account: '999999999999', role: 'stackfleet-deploy', organizationId: 'o-zzzzzzzzzz' };
    expect(await request(outsider, 's3:GetObjectVersion', OBJECT)).toBe('ImplicitlyDenied');
  });

  test('THEN the admin roles that install the deploy role in new accounts read the bootstrap prefix, and only it', async () => {
    for (const role of ['OrganizationAccountAccessRole', 'AWSControlTowerExecution']) {
      expect(await request({ account: MEMBER, role }, 's3:GetObjectVersion', BOOTSTRAP_OBJECT)).toBe('Allowed');
      expect(await request({ account: MEMBER, role }, 's3:GetObjectVersion', OBJECT)).toBe('ImplicitlyDenied');
    }
  });

  test('THEN no request without TLS is served, and nobody outside writes', async () => {
    expect(await request(deployRole, 's3:GetObject', OBJECT, { 'aws:SecureTransport': 'false' })).toBe('ExplicitlyDenied');
    expect(await request({ account: MEMBER, role: 'stackfleet-deploy' }, 's3:PutObject', OBJECT)).toBe('ImplicitlyDenied');
  });

  test('THEN the bucket is versioned (the lister refuses unversioned templates), private, kept, and owner-enforced', () => {
    const bucket = template.properties('Bucket')!;
    expect(bucket.BucketName).toBe(TEMPLATE_BUCKET);
    expect(bucket.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(template.raw.Resources.Bucket.DeletionPolicy).toBe('Retain');
  });
});

describe('GIVEN the template bucket with readers in another account and publishers', () => {
  const lister = roleArn('333333333333', 'Stackfleet-FleetListerRole1A2B3C4D-abcdefghijkl');
  const publisher = roleArn(STACKFLEET_ACCOUNT, 'template-publisher');
  const { policy } = templateBucketPolicy({ ReaderRoleArns: lister, PublisherRoleArns: publisher });
  const as = (principal: string, action: string, identity = ADMIN) =>
    decide(
      {
        principal,
        action,
        resource: OBJECT,
        resourceAccount: STACKFLEET_ACCOUNT,
        context: { 'aws:PrincipalOrgID': ORGANIZATION_ID },
      },
      { identity, resource: policy },
    );

  const onTheBucket = (principal: string, action: string) =>
    decide(
      { principal, action, resource: `arn:aws:s3:::${TEMPLATE_BUCKET}`, resourceAccount: STACKFLEET_ACCOUNT, context: { 'aws:PrincipalOrgID': ORGANIZATION_ID } },
      { identity: ADMIN, resource: policy },
    );

  test('THEN the lister reads templates and their versions; without the parameter it would not', async () => {
    expect(await as(lister, 's3:GetObjectVersion')).toBe('Allowed');
    const { policy: withoutReaders } = templateBucketPolicy();
    expect(
      await decide(
        { principal: lister, action: 's3:GetObjectVersion', resource: OBJECT, resourceAccount: STACKFLEET_ACCOUNT, context: { 'aws:PrincipalOrgID': ORGANIZATION_ID } },
        { identity: ADMIN, resource: withoutReaders },
      ),
    ).toBe('ImplicitlyDenied');
  });

  test('THEN only the publishers write templates or the settings that keep their versions, even an administrator of this account may not', async () => {
    expect(await as(publisher, 's3:PutObject', [allowing(['s3:PutObject'])])).toBe('Allowed');
    expect(await as(roleArn(STACKFLEET_ACCOUNT, 'Admin'), 's3:PutObject')).toBe('ExplicitlyDenied');
    expect(await as(roleArn(STACKFLEET_ACCOUNT, 'Admin'), 's3:DeleteObjectVersion')).toBe('ExplicitlyDenied');
    // Replication brings objects in; lifecycle, versioning and the policy decide which versions live.
    for (const action of ['s3:ReplicateObject', 's3:ReplicateDelete']) {
      expect([action, await as(roleArn(STACKFLEET_ACCOUNT, 'Admin'), action)]).toEqual([action, 'ExplicitlyDenied']);
      expect([action, await as(publisher, action)]).toEqual([action, 'Allowed']);
    }
    for (const action of ['s3:PutLifecycleConfiguration', 's3:PutBucketVersioning', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy']) {
      expect([action, await onTheBucket(roleArn(STACKFLEET_ACCOUNT, 'Admin'), action)]).toEqual([action, 'ExplicitlyDenied']);
      expect([action, await onTheBucket(publisher, action)]).toEqual([action, 'Allowed']);
    }
    // Reading stays with this account's own IAM policies.
    expect(await as(roleArn(STACKFLEET_ACCOUNT, 'Admin'), 's3:GetObject')).toBe('Allowed');
  });
});
