/**
 * The stored default spec: what a new-account event deploys, and what every execution input is
 * merged over. It is a rollout document like any other (crates/core/src/document.rs), so it is
 * checked against that document's JSON Schema (schema/rollout.schema.json), not against a
 * TypeScript copy of it, and reaches the lister as given, as JSON in STACKFLEET_DEFAULT_SPEC.
 * What is checked here besides is what the schema cannot say and the serverless path needs.
 */
import { RolloutSchema, ROLLOUT_SCHEMA_FILE } from './rollout-schema';

/** The role the Rust side assumes when a document names none (spec.rs, `DeployRole::default`). */
export const DEFAULT_DEPLOY_ROLE_NAME = 'OrganizationAccountAccessRole';

/**
 * Lambda caps the total size of a function's environment variables at 4 KB. The lister's other
 * variable is STACKFLEET_BUCKET, whose value is a bucket name of at most 63 characters.
 */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;
const OTHER_LISTER_VARIABLES_BYTES = 'STACKFLEET_BUCKET'.length + 63 + 'STACKFLEET_DEFAULT_SPEC'.length;
export const MAX_DEFAULT_SPEC_BYTES = LAMBDA_ENVIRONMENT_LIMIT_BYTES - OTHER_LISTER_VARIABLES_BYTES;

/**
 * Throws, at synth rather than at 3 a.m., an Error with a line `defaultSpec: <path>: <message>`
 * for each thing the lister would refuse or the serverless path cannot use.
 */
export function validateDefaultSpec(
  spec: unknown,
  schemaFile: string = ROLLOUT_SCHEMA_FILE,
): asserts spec is Record<string, unknown> {
  const fail = (problems: { path: string; message: string }[]): never => {
    throw new Error(problems.map(({ path, message }) => `defaultSpec: ${path}: ${message}`).join('\n'));
  };
  const schemaProblems = RolloutSchema.load(schemaFile).problems(spec);
  if (schemaProblems.length > 0) fail(schemaProblems);

  // Valid against the schema, so every field present has its documented shape.
  const document = spec as Record<string, unknown> & {
    stackName?: string | null;
    template?: { file?: string } | null;
    targets?: { regions?: string[] };
  };
  const problems: { path: string; message: string }[] = [];
  if (document.stackName == null) problems.push({ path: 'stackName', message: 'is missing: a new account needs the stack named' });
  if (document.template == null) {
    problems.push({ path: 'template', message: 'is missing: give template.url (an https URL of the template in S3)' });
  } else if (document.template.file !== undefined) {
    problems.push({
      path: 'template.file',
      message: 'a path means nothing to the Lambda, which cannot read this machine: upload the template to S3 and give template.url',
    });
  }
  if (!document.targets?.regions?.length) {
    problems.push({ path: 'targets.regions', message: 'is empty: a new account needs at least one region' });
  }
  if (problems.length > 0) fail(problems);

  const size = Buffer.byteLength(defaultSpecJson(document), 'utf8');
  if (size > MAX_DEFAULT_SPEC_BYTES) {
    fail([
      {
        path: '(document)',
        message:
          `as JSON it is ${size} bytes, over the ${MAX_DEFAULT_SPEC_BYTES} bytes left of Lambda's 4 KB environment: ` +
          'upload the template to S3 and give template.url instead of an inline body',
      },
    ]);
  }
}

/** What the lister reads: the document as given, for the Rust side to parse (and fill in defaults). */
export function defaultSpecJson(spec: Record<string, unknown>): string {
  return JSON.stringify(spec);
}

/** The role the worker assumes in every target, and so the only one it is granted. */
export function deployRoleName(spec: Record<string, unknown>): string {
  const deployRole = spec.deployRole as { name?: string } | null | undefined;
  return deployRole?.name ?? DEFAULT_DEPLOY_ROLE_NAME;
}
