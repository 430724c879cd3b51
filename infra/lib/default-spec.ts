/**
 * The stored default rollout spec: what a new-account event deploys, and what every execution
 * input is merged over field by field. It reaches the lister as JSON in STACKFLEET_DEFAULT_SPEC,
 * where the Rust side parses it (RolloutSpec is deny_unknown_fields), so only known fields are
 * emitted, in the camelCase the Rust side reads.
 */

/** Where the template comes from: an https URL of an S3 object, or an inline body. */
export type TemplateSource = { readonly url: string } | { readonly body: string };

export type Capability = 'CAPABILITY_IAM' | 'CAPABILITY_NAMED_IAM' | 'CAPABILITY_AUTO_EXPAND';

export interface DeployRole {
  /** The role assumed in every target account (without path). */
  readonly name: string;
  /** Passed to AssumeRole as sts:ExternalId. */
  readonly externalId?: string;
}

export interface Targets {
  /** OU or root IDs; child OUs are included. */
  readonly ous?: string[];
  readonly accounts?: string[];
  /** Every account is targeted in each of these regions. */
  readonly regions: string[];
  /** Only accounts carrying every one of these tags. */
  readonly tags?: Record<string, string>;
  readonly exclude?: string[];
}

export interface DefaultSpec {
  readonly stackName: string;
  readonly template: TemplateSource;
  readonly parameters?: Record<string, string>;
  readonly capabilities?: Capability[];
  readonly tags?: Record<string, string>;
  readonly deployRole: DeployRole;
  readonly targets: Targets;
  /** Child executions at once (the Distributed Map's MaxConcurrency). */
  readonly concurrency?: number;
  /** Failed targets, in percent, that still let the execution succeed. */
  readonly toleratedFailurePercentage?: number;
}

/**
 * Lambda caps the total size of a function's environment variables at 4 KB. The lister's other
 * variable is STACKFLEET_BUCKET, whose value is a bucket name of at most 63 characters.
 */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;
const OTHER_LISTER_VARIABLES_BYTES = 'STACKFLEET_BUCKET'.length + 63 + 'STACKFLEET_DEFAULT_SPEC'.length;
export const MAX_DEFAULT_SPEC_BYTES = LAMBDA_ENVIRONMENT_LIMIT_BYTES - OTHER_LISTER_VARIABLES_BYTES;

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const REGION = /^[a-z]+(-[a-z]+)+-\d{1,2}$/;
const CAPABILITIES: readonly string[] = ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'];

/** Throws an Error naming the first field that the lister would refuse, at synth rather than at 3 a.m. */
export function validateDefaultSpec(spec: DefaultSpec): void {
  const fail = (message: string): never => {
    throw new Error(`defaultSpec: ${message}`);
  };
  if (!spec.stackName) fail('stackName is missing');
  if (!STACK_NAME.test(spec.stackName)) {
    fail(`stackName ${JSON.stringify(spec.stackName)} is not a CloudFormation stack name (a letter, then letters, digits or -, at most 128)`);
  }
  const template = spec.template as { url?: string; body?: string } | undefined;
  if (!template || (template.url === undefined) === (template.body === undefined)) {
    fail('template must have exactly one of url or body');
  }
  if (template?.url !== undefined && !template.url.startsWith('https://')) {
    fail(`template.url ${JSON.stringify(template.url)} must be an https:// URL of an S3 object`);
  }
  if (!spec.deployRole?.name) fail('deployRole.name is missing');
  if (!ROLE_NAME.test(spec.deployRole.name)) {
    fail(`deployRole.name ${JSON.stringify(spec.deployRole.name)} is not an IAM role name (1-64 of letters, digits, +=,.@_-)`);
  }
  if (!spec.targets?.regions?.length) fail('targets.regions is empty: name at least one region');
  for (const region of spec.targets.regions) {
    if (!REGION.test(region)) fail(`targets.regions: ${JSON.stringify(region)} is not a region name`);
  }
  for (const capability of spec.capabilities ?? []) {
    if (!CAPABILITIES.includes(capability)) fail(`capabilities: unknown ${JSON.stringify(capability)}`);
  }
  if (spec.concurrency !== undefined && !(Number.isInteger(spec.concurrency) && spec.concurrency >= 1 && spec.concurrency <= 10_000)) {
    fail('concurrency must be a whole number from 1 to 10000');
  }
  const tolerated = spec.toleratedFailurePercentage;
  if (tolerated !== undefined && !(Number.isInteger(tolerated) && tolerated >= 0 && tolerated <= 100)) {
    fail('toleratedFailurePercentage must be a whole number from 0 to 100');
  }
  const size = Buffer.byteLength(defaultSpecJson(spec), 'utf8');
  if (size > MAX_DEFAULT_SPEC_BYTES) {
    fail(
      `as JSON it is ${size} bytes, over the ${MAX_DEFAULT_SPEC_BYTES} bytes left of Lambda's 4 KB environment: ` +
        'upload the template to S3 and give template.url instead of an inline body',
    );
  }
}

/**
 * The JSON the lister reads: the known fields only, in a fixed order, without the ones left
 * unset (the Rust side fills its own defaults).
 */
export function defaultSpecJson(spec: DefaultSpec): string {
  const template = 'url' in spec.template ? { url: spec.template.url } : { body: spec.template.body };
  const targets = {
    ...(spec.targets.accounts && { accounts: spec.targets.accounts }),
    ...(spec.targets.ous && { ous: spec.targets.ous }),
    ...(spec.targets.tags && { tags: spec.targets.tags }),
    ...(spec.targets.exclude && { exclude: spec.targets.exclude }),
    regions: spec.targets.regions,
  };
  const deployRole = {
    name: spec.deployRole.name,
    ...(spec.deployRole.externalId && { externalId: spec.deployRole.externalId }),
  };
  return JSON.stringify({
    stackName: spec.stackName,
    template,
    ...(spec.parameters && { parameters: spec.parameters }),
    ...(spec.capabilities && { capabilities: spec.capabilities }),
    ...(spec.tags && { tags: spec.tags }),
    deployRole,
    targets,
    ...(spec.concurrency !== undefined && { concurrency: spec.concurrency }),
    ...(spec.toleratedFailurePercentage !== undefined && {
      toleratedFailurePercentage: spec.toleratedFailurePercentage,
    }),
  });
}
