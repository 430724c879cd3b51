import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCloudFormationYaml } from './cfn-yaml';
import { asList, REPO, Statement } from './support';

const TEMPLATE = path.join(REPO, 'examples/bootstrap/deploy-role.yaml');

/** Every policy statement in the template, whichever branch of an Fn::If it sits in. */
function statements(node: unknown): Statement[] {
  if (Array.isArray(node)) return node.flatMap(statements);
  if (!node || typeof node !== 'object') return [];
  const object = node as Record<string, unknown>;
  const own = Array.isArray(object.Statement) ? (object.Statement as Statement[]) : [];
  return [...own, ...Object.values(object).flatMap(statements)];
}

describe('GIVEN the member-account deploy role template', () => {
  const template = readCloudFormationYaml(TEMPLATE);
  const role = template.Resources.DeployRole.Properties;
  const permissions = statements(role.Policies);

  test('THEN its parameters default to the names the CDK app uses', () => {
    const parameters = template.Parameters;
    expect(parameters.RoleName.Default).toBe('stackfleet-deploy');
    expect(parameters.WorkerRoleName.Default).toBe('stackfleet-worker');
    expect(parameters.ExternalId.Default).toBe('');
    expect(parameters.ManagementAccountId.Default).toBeUndefined();
    expect(role.RoleName).toEqual({ Ref: 'RoleName' });
  });

  test('THEN no statement names an Action with a *', () => {
    const all = statements(template);
    expect(all.length).toBeGreaterThan(3);
    expect(all.flatMap((s) => asList(s.Action)).filter((action) => action.includes('*'))).toEqual([]);
  });

  test('THEN it trusts the management account only through the worker role, with the external ID when given', () => {
    const trust = role.AssumeRolePolicyDocument.Statement as Statement[];
    expect(trust).toHaveLength(1);
    expect(trust[0]).toMatchObject({
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${ManagementAccountId}:root' } },
    });
    const [condition, withExternalId, without] = (trust[0].Condition as unknown as { 'Fn::If': [string, unknown, unknown] })['Fn::If'];
    expect(template.Conditions[condition]).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'ExternalId' }, ''] }] });
    const worker = { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${ManagementAccountId}:role/${WorkerRoleName}' };
    expect(withExternalId).toEqual({
      ArnEquals: { 'aws:PrincipalArn': worker },
      StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } },
    });
    expect(without).toEqual({ ArnEquals: { 'aws:PrincipalArn': worker } });
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
    const allowed = permissions.filter((s) => s.Effect === 'Allow').flatMap((s) => asList(s.Action));
    expect([...calls].filter((action) => !allowed.includes(action))).toEqual([]);
  });

  test('THEN every permission stays inside this account, or on the template bucket named', () => {
    for (const statement of permissions) {
      for (const resource of asList(statement.Resource as { 'Fn::Sub': string })) {
        expect(resource['Fn::Sub']).toMatch(/\$\{AWS::AccountId\}|^arn:\$\{AWS::Partition\}:s3:::\$\{TemplateBucketName\}\/\*$/);
      }
    }
  });
});
