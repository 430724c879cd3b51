/**
 * The run bucket's policy: nobody but the three functions' roles writes or deletes a record,
 * however broad their own policies; decided by an IAM evaluator over the synthesized policy.
 */
import { IConstruct } from 'constructs';
import { allowing, decide } from './iam-decision';
import { logicalId, Statement, synth, Synth } from './support';

const ACCOUNT = '111111111111';
const BUCKET_ARN = 'arn:aws:s3:::stackfleet-records';
const SPEC = `${BUCKET_ARN}/runs/run-1/spec.json`;

/** The synthesized policy with its references made concrete: a role's Arn is role/<its logical ID>. */
function concrete(node: unknown, bucketId: string): unknown {
  if (Array.isArray(node)) return node.map((child) => concrete(child, bucketId));
  if (!node || typeof node !== 'object') return node;
  const object = node as Record<string, unknown>;
  if ('Fn::GetAtt' in object) {
    const [id, attribute] = object['Fn::GetAtt'] as [string, string];
    if (attribute !== 'Arn') throw new Error(`${id}.${attribute}`);
    return id === bucketId ? BUCKET_ARN : `arn:aws:iam::${ACCOUNT}:role/${id}`;
  }
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => concrete(part, bucketId)).join(separator);
  }
  if ('Ref' in object) {
    if (object.Ref === 'AWS::Partition') return 'aws';
    throw new Error(`Ref ${String(object.Ref)}`);
  }
  return Object.fromEntries(Object.entries(object).map(([key, value]) => [key, concrete(value, bucketId)]));
}

describe('GIVEN the stack with the example default spec', () => {
  let fleet: Synth;
  let policy: { Statement: Statement[] };
  const roleArn = (role: IConstruct) => `arn:aws:iam::${ACCOUNT}:role/${logicalId(role)}`;
  beforeAll(() => {
    fleet = synth({ operatorPrincipals: ['222222222222'] });
    const bucketId = logicalId(fleet.stack.fleet.bucket);
    const policies = Object.values(fleet.template.findResources('AWS::S3::BucketPolicy')).filter(
      (resource) => resource.Properties.Bucket.Ref === bucketId,
    );
    expect(policies).toHaveLength(1);
    policy = concrete(policies[0].Properties.PolicyDocument, bucketId) as { Statement: Statement[] };
  });
  const functionRoles = () => [fleet.stack.fleet.lister.role!, fleet.stack.fleet.workerRole, fleet.stack.fleet.reducer.role!];
  const as = (role: string, action: string, identity = [allowing(['s3:*'])]) =>
    decide(
      { principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${role.split('/').pop()}/session`, action, resource: SPEC, resourceAccount: ACCOUNT, context: { 'aws:PrincipalArn': role } },
      { identity, resource: policy as unknown as Record<string, unknown> },
    );

  test('THEN its guard names exactly the three functions’ roles, and no operator, state machine or other role', () => {
    const guard = policy.Statement.find((s) => (s as { Sid?: string }).Sid === 'OnlyTheFunctionsWriteRecords')!;
    expect(guard.Effect).toBe('Deny');
    expect(guard.NotResource).toBe(`${BUCKET_ARN}/runs/*/approval.json`);
    expect(guard.Condition).toEqual({ ArnNotEquals: { 'aws:PrincipalArn': functionRoles().map(roleArn) } });
  });

  test("THEN a plan-first run's approval is guarded apart: only the reducer (an expiry) and the approver (here the operator role) write it", () => {
    const guard = policy.Statement.find((s) => (s as { Sid?: string }).Sid === 'OnlyApproversWriteApprovals')!;
    expect(guard.Effect).toBe('Deny');
    expect(guard.Resource).toBe(`${BUCKET_ARN}/runs/*/approval.json`);
    const writers = [fleet.stack.fleet.reducer.role!, fleet.stack.fleet.operatorRole!].map(roleArn);
    expect(guard.Condition).toEqual({ ArnNotEquals: { 'aws:PrincipalArn': writers } });
  });

  test('WHEN an administrator of this account, or the operator role, writes or deletes a record THEN it is denied', async () => {
    for (const role of [`arn:aws:iam::${ACCOUNT}:role/Admin`, roleArn(fleet.stack.fleet.operatorRole!)]) {
      for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectAcl', 's3:ReplicateObject']) {
        expect([role, action, await as(role, action)]).toEqual([role, action, 'ExplicitlyDenied']);
      }
      // Reading stays with its own policies.
      expect(await as(role, 's3:GetObject')).toBe('Allowed');
    }
  });

  test('WHEN a function writes a record THEN its own policy decides, not the bucket’s', async () => {
    for (const role of functionRoles().map(roleArn)) {
      expect(await as(role, 's3:PutObject', [allowing(['s3:PutObject'])])).toBe('Allowed');
      expect(await as(role, 's3:PutObject', [allowing(['s3:GetObject'])])).toBe('ImplicitlyDenied');
    }
  });
});
