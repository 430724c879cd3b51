/**
 * The machine's trust boundary, decided at deploy time: which fields of the stored default spec
 * an execution input may change (`inputFields`), which inputs it takes at all (`accept`), and
 * whether its deploy role may be an administrator role. The lister enforces the first two (env
 * STACKFLEET_INPUT_FIELDS and STACKFLEET_ACCEPT); `stackfleet start` reads them from the state
 * machine's tags to say what it will refuse before it sends anything.
 */
import { RolloutSchema, ROLLOUT_SCHEMA_FILE } from './rollout-schema';
import { deployRoleName } from './default-spec';

/** What a pipeline may choose per execution when nobody says otherwise: where, how fast, how careful. */
export const DEFAULT_INPUT_FIELDS: readonly string[] = ['targets', 'concurrency', 'failureTolerance', 'waves'];

export const ACCEPT_VALUES = ['any', 'new-account'] as const;
export type Accept = (typeof ACCEPT_VALUES)[number];

/** Administrator roles that exist in member accounts whatever one deploys there. */
export const ADMIN_ROLE_NAMES: readonly string[] = ['OrganizationAccountAccessRole', 'AWSControlTowerExecution'];

/** Step Functions tag values: at most 256 characters, of these. */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
/** A CloudFormation parameter name: alphanumeric. */
const PARAMETER_NAME = /^[A-Za-z0-9]{1,255}$/;

/** `inputFields` that lets an input change every field, the targets unbounded (the lister's `*`). */
export const EVERY_FIELD = '*';
/**
 * The `stackfleet:input-fields` tag for EVERY_FIELD: a Step Functions tag value cannot hold a `*`
 * (letters, digits, white space and `_ . : / = + - @` only), nor, at 266 characters, the list of
 * every field.
 */
export const EVERY_FIELD_TAG = 'all-fields';
/** `-c inputFields=none`: an input may change nothing (but resume and alarms, always accepted). */
export const NO_FIELD = 'none';

/** Whether an input may change `field` under these (checked) input fields. */
export const acceptsField = (fields: readonly string[], field: string): boolean => fields.includes(EVERY_FIELD) || fields.includes(field);

/**
 * The `stackfleet:input-fields` tag for no field: one space. CloudFormation's schema of a state
 * machine's tags wants a value of at least one character; `stackfleet start` trims it and says
 * the machine accepts no change.
 */
export const NO_FIELD_TAG = ' ';

/** The state machine's `stackfleet:input-fields` tag for these (checked) input fields. */
export function inputFieldsTag(fields: readonly string[]): string {
  if (fields.includes(EVERY_FIELD)) return EVERY_FIELD_TAG;
  return fields.length === 0 ? NO_FIELD_TAG : fields.join(' ');
}

/**
 * The allow-list as given, checked against the rollout document's schema: each entry a top-level
 * field or `parameters.NAME`; `*` alone for every field; an empty list for no change at all.
 * Throws naming every entry it does not know.
 */
export function checkInputFields(fields: readonly string[], schemaFile: string = ROLLOUT_SCHEMA_FILE): string[] {
  const known = RolloutSchema.load(schemaFile).topLevelFields().filter((field) => field !== '$schema');
  if (fields.includes(EVERY_FIELD)) {
    if (fields.some((field) => field !== EVERY_FIELD)) {
      throw new Error(`inputFields: ${EVERY_FIELD} means every field: give it alone, not with ${fields.filter((f) => f !== EVERY_FIELD).join(', ')}`);
    }
    return [EVERY_FIELD];
  }
  if (fields.includes(NO_FIELD)) {
    throw new Error(
      `inputFields: ${NO_FIELD} is the app's word for no field (-c inputFields=${NO_FIELD}); ` +
        'to the construct, give an empty list, and not with other fields',
    );
  }
  const problems = fields.flatMap((field) => {
    const parameter = /^parameters\.(.*)$/.exec(field);
    if (parameter) {
      return PARAMETER_NAME.test(parameter[1])
        ? []
        : [`inputFields: ${JSON.stringify(field)}: a CloudFormation parameter name is letters and digits only`];
    }
    if (known.includes(field)) return [];
    const near = known.find((name) => name.toLowerCase() === field.toLowerCase());
    return [
      `inputFields: ${JSON.stringify(field)} is not a field of the rollout document` +
        (near ? ` (did you mean ${near}?)` : '') +
        `: give top-level fields (${known.join(', ')}) or parameters.NAME`,
    ];
  });
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const unique = [...new Set(fields)];
  const tag = unique.join(' ');
  if (!TAG_VALUE.test(tag)) {
    throw new Error(
      `inputFields: ${tag.length} characters as the stackfleet:input-fields tag, over the 256 a tag value holds: ` +
        'name fewer fields (a whole parameters rather than many parameters.NAME)',
    );
  }
  return unique;
}

export function checkAccept(accept: string): Accept {
  if (!(ACCEPT_VALUES as readonly string[]).includes(accept)) {
    throw new Error(
      `accept ${JSON.stringify(accept)} must be ${ACCEPT_VALUES.map((value) => JSON.stringify(value)).join(' or ')}: ` +
        'new-account for the machine that only installs the deploy role in new accounts',
    );
  }
  return accept as Accept;
}

/**
 * Refuses a standing machine that acts as an administrator in every account: whoever may start
 * it could deploy anything anywhere, and the allow-list would be all that stands in the way.
 */
export function checkDeployRole(spec: Record<string, unknown>, accept: Accept, allowAdminDeployRole: boolean): void {
  const role = deployRoleName(spec);
  if (!ADMIN_ROLE_NAMES.includes(role) || accept === 'new-account' || allowAdminDeployRole) return;
  const named = (spec.deployRole as { name?: string } | null | undefined)?.name
    ? `deployRole.name is ${role}`
    : `deployRole is absent, and the default is ${role}`;
  throw new Error(
    `defaultSpec: ${named}, an administrator role in every member account: anyone who may start this machine ` +
      'would deploy anything, as administrator, everywhere. Install a deploy role with guardrails first ' +
      '(as a person: stackfleet deploy --spec examples/bootstrap/rollout.yaml) and name it: ' +
      '"deployRole": {"name": "stackfleet-deploy"}. The machine that installs that role in new accounts ' +
      'takes -c accept=new-account (it then runs the default spec on new-account events only). ' +
      'To run an administrator role anyway, knowing this: -c allowAdminDeployRole=true.',
  );
}
