/** What the Stackfleet construct refuses at synth, each with the prop it is about and what to do. */
import { validateDefaultSpec } from './default-spec';
import type { StackfleetProps } from './stackfleet';
import { Accept, checkAccept, checkDeployRole, checkInputFields, DEFAULT_INPUT_FIELDS } from './trust';

const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;

/** Throws on the first prop the stack cannot work with; returns the trust settings, defaults filled in. */
export function checkProps(props: StackfleetProps): { inputFields: string[]; accept: Accept } {
  if (!ORGANIZATION_ID.test(props.organizationId ?? '')) {
    throw new Error(
      `organizationId ${JSON.stringify(props.organizationId)} is not an Organization ID (o- and 10 to 32 lowercase letters or digits, e.g. o-abc123defg)`,
    );
  }
  validateDefaultSpec(props.defaultSpec);
  const accept = checkAccept(props.accept ?? 'any');
  checkDeployRole(props.defaultSpec, accept, props.allowAdminDeployRole ?? false);
  const inputFields = checkInputFields(props.inputFields ?? DEFAULT_INPUT_FIELDS);
  const days = props.runRetentionDays;
  if (days !== undefined && !(Number.isInteger(days) && days >= 1)) {
    throw new Error(`runRetentionDays must be a whole number of days, at least 1, not ${days}`);
  }
  for (const [prop, principals] of Object.entries({ operatorPrincipals: props.operatorPrincipals, approverPrincipals: props.approverPrincipals })) {
    for (const principal of principals ?? []) {
      if (!/^\d{12}$/.test(principal) && !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+/.test(principal)) {
        throw new Error(`${prop}: ${JSON.stringify(principal)} is neither an account ID nor an IAM ARN`);
      }
    }
  }
  if (props.workerRoleName !== undefined && !/^[\w+=,.@-]{1,64}$/.test(props.workerRoleName)) {
    throw new Error(`workerRoleName ${JSON.stringify(props.workerRoleName)} is not an IAM role name`);
  }
  for (const name of props.templateBucketNames ?? []) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)) {
      throw new Error(`templateBucketNames: ${JSON.stringify(name)} is not an S3 bucket name`);
    }
  }
  checkSecretScope(props.secretPrefix, props.secretKmsKeyArns);
  return { inputFields, accept };
}

function checkSecretScope(prefix: string | undefined, keyArns: string[] | undefined): void {
  if (prefix !== undefined) {
    if (prefix.startsWith('/')) {
      throw new Error(
        `secretPrefix ${JSON.stringify(prefix)}: give it without the leading / (${prefix.replace(/^\/+/, '')}): ` +
          'it names both the SSM parameters /PREFIX... and the secrets PREFIX...',
      );
    }
    if (!/^[A-Za-z0-9_.\-/]+$/.test(prefix)) {
      throw new Error(
        `secretPrefix ${JSON.stringify(prefix)} must be letters, digits and _ . - / only, and not empty: ` +
          'an empty prefix would let the worker read every parameter and secret of the account',
      );
    }
    if (!prefix.endsWith('/')) {
      throw new Error(
        `secretPrefix ${JSON.stringify(prefix)}: end it with / (${prefix}/): the grant is the prefix then *, so without ` +
          `the slash it also reaches /${prefix}-prod/... and ${prefix}other, not only what is under ${prefix}/`,
      );
    }
  }
  for (const arn of keyArns ?? []) {
    if (!/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/.test(arn)) {
      throw new Error(
        `secretKmsKeyArns: ${JSON.stringify(arn)} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; ` +
          'an alias ARN does not match the key in an IAM policy)',
      );
    }
  }
}
