/**
 * The stored default spec: what a new-account event deploys, and what every execution input is
 * merged over. It is a rollout document like any other (crates/core/src/document.rs), so it is
 * checked against that document's JSON Schema (schema/rollout.schema.json), not against a
 * TypeScript copy of it, and reaches the lister as given, as JSON in STACKFLEET_DEFAULT_SPEC.
 * What is checked here besides is what the schema cannot say and the serverless path needs.
 */
import { MAX_RESERVED_CONCURRENCY } from './concurrency';
import { RolloutSchema, ROLLOUT_SCHEMA_FILE } from './rollout-schema';

/** The role the Rust side assumes when a document names none (spec.rs, `DeployRole::default`). */
export const DEFAULT_DEPLOY_ROLE_NAME = 'OrganizationAccountAccessRole';

/**
 * Lambda caps the total size of a function's environment variables, names and values, at 4 KB.
 * The lister's other variables, at their largest: the bucket's name (63 characters), the input
 * fields (256, as their tag holds no more), the accepted inputs (`new-account`) and the worker's
 * reserved concurrency (5 digits: at most 10,000).
 */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;
const OTHER_LISTER_VARIABLES_BYTES =
  'STACKFLEET_DEFAULT_SPEC'.length +
  'STACKFLEET_BUCKET'.length + 63 +
  'STACKFLEET_INPUT_FIELDS'.length + 256 +
  'STACKFLEET_ACCEPT'.length + 'new-account'.length +
  'STACKFLEET_WORKER_CONCURRENCY'.length + String(MAX_RESERVED_CONCURRENCY).length;
export const MAX_DEFAULT_SPEC_BYTES = LAMBDA_ENVIRONMENT_LIMIT_BYTES - OTHER_LISTER_VARIABLES_BYTES;

/** An S3 object as a template URL names it. */
export interface TemplateObject {
  readonly bucket: string;
  readonly key: string;
}

const S3_HOST = String.raw`s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?`;
const BUCKET = '[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]';
const VIRTUAL_HOSTED = new RegExp(`^https://(${BUCKET})\\.${S3_HOST}/([^?#]+)`);
const PATH_STYLE = new RegExp(`^https://${S3_HOST}/(${BUCKET})/([^?#]+)`);

/** The bucket and key of an S3 URL, virtual-hosted or path-style; undefined for any other URL. */
export function templateObject(url: string): TemplateObject | undefined {
  const match = VIRTUAL_HOSTED.exec(url) ?? PATH_STYLE.exec(url);
  if (!match) return undefined;
  try {
    return { bucket: match[1], key: decodeURIComponent(match[2]) };
  } catch {
    return undefined;
  }
}

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
    template?: { file?: string; body?: string; url?: string } | null;
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
  } else if (document.template.body !== undefined) {
    problems.push({
      path: 'template.body',
      message:
        'the serverless path deploys templates from S3, each run pinned to one version of the object: upload it to ' +
        'the template bucket (examples/bootstrap/template-bucket.yaml) and give template.url',
    });
  } else if (document.template.url !== undefined && !templateObject(document.template.url)) {
    problems.push({
      path: 'template.url',
      message: `${JSON.stringify(document.template.url)} is not the URL of an S3 object: give https://BUCKET.s3.REGION.amazonaws.com/KEY`,
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
          'shorten it (large parameter values belong in the template, or in SSM or Secrets Manager by reference)',
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

/** The default spec's template object: synth has checked that it has one. */
export function defaultTemplateObject(spec: Record<string, unknown>): TemplateObject {
  const url = (spec.template as { url: string }).url;
  return templateObject(url)!;
}
