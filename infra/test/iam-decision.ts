/**
 * What IAM would decide for one request, from @cloud-copilot/iam-simulate: identity policies,
 * a permissions boundary, a resource policy, same-account or cross-account, with the conditions
 * evaluated. It is a dev dependency, used only by these tests (its licence is the AGPL).
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';
type Policy = Record<string, unknown>;

export interface Request {
  /** The role (or assumed-role session) ARN making the call. */
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  /** The account that owns the resource; read from the ARN when it has one. */
  readonly resourceAccount?: string;
  /** Request context keys; aws:PrincipalArn and aws:PrincipalAccount are filled in. */
  readonly context?: Record<string, string | string[]>;
}

export interface Policies {
  readonly identity: Policy[];
  readonly boundary?: Policy;
  readonly resource?: Policy;
}

/** The decision, or a throw when the evaluator refuses the request or ignores a context key (see `judge`). */
export async function decide(request: Request, policies: Policies): Promise<Decision> {
  return (await judge(request, policies)).overall;
}

/**
 * The decision, and that of the identity policies alone (AWS itself refuses some requests
 * whatever the policies say, e.g. writes on the roles under role/aws-reserved/). Throws when the
 * evaluator refuses the request or ignores a context key the test gave: a misspelt key, or one
 * the action does not have, would make a test pass for nothing.
 */
export async function judge(request: Request, policies: Policies): Promise<{ overall: Decision; identity: Decision }> {
  const resourceAccount = request.resourceAccount ?? /^arn:[^:]+:[^:]+:[^:]*:(\d{12}):/.exec(request.resource)?.[1];
  if (!resourceAccount) throw new Error(`${request.resource}: give resourceAccount`);
  const principalAccount = /:(\d{12}):/.exec(request.principal)![1];
  const response = await runSimulation(
    {
      request: {
        principal: request.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: resourceAccount },
        contextVariables: {
          'aws:PrincipalArn': request.principal,
          'aws:PrincipalAccount': principalAccount,
          'aws:SecureTransport': 'true',
          ...request.context,
        },
      },
      identityPolicies: policies.identity.map((policy, index) => ({ name: `identity-${index}`, policy })),
      permissionBoundaryPolicies: policies.boundary ? [{ name: 'boundary', policy: policies.boundary }] : undefined,
      resourcePolicy: policies.resource,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (response.resultType === 'error') {
    throw new Error(`the evaluator refused the request: ${JSON.stringify(response.errors)}`);
  }
  if (response.resultType !== 'single') throw new Error(`${request.resource}: name one resource, not a pattern`);
  const ignored = (response.result.ignoredContextKeys ?? []).filter(
    (key) => !['aws:PrincipalArn', 'aws:PrincipalAccount', 'aws:SecureTransport'].includes(key),
  );
  if (ignored.length > 0) throw new Error(`${request.action} has no context key ${ignored.join(', ')}`);
  return {
    overall: response.overallResult as Decision,
    identity: response.result.analysis.identityAnalysis?.result as Decision,
  };
}

/** A policy document of one Allow statement, for a principal's other permissions. */
export const allowing = (actions: string[], resources: string[] = ['*']): Policy => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: actions, Resource: resources }],
});
