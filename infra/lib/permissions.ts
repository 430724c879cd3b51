/**
 * What each role may do, statement by statement. Every Action is spelled out (no `*` in any
 * Action), and every S3 object resource names the prefix its function reads or writes under
 * `runs/<run>/`, as crates/core/src/run_keys.rs lays them out.
 */
import { ArnFormat, Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';

/**
 * Keys under `runs/<run>/` that each role reads or writes; test/run-keys.test.ts holds them
 * against the layout the Rust side writes (tests/fixtures/run-keys.json).
 */
export const RUN_KEYS = {
  // Discover writes the run's document, one target list per wave, the skipped targets' outcomes
  // (a new run) or the resumed run's successes (a resume), and last the run record.
  listerPut: ['spec.json', 'waves/*', 'outcomes/*', 'inherited.json', 'run.json'],
  // A resume reads the resumed run's record and report: another run's, which runs/* covers.
  listerGet: ['run.json', 'report.json'],
  // Start reads the stop marker and its target's started marker, and leaves that marker; after a
  // failure the worker reads the record for the wave's budget and may write the stop marker. An
  // invocation the caller's APIs throttled leaves a marker for the Gate, its tally in its name.
  // A plan-first run's worker writes its target's plan, then applies what the plan and its
  // approval say.
  workerGet: ['spec.json', 'run.json', 'outcomes/*', 'stop.json', 'started/*', 'planned/*', 'plan.json', 'approval.json'],
  workerPut: ['outcomes/*', 'failed/*', 'stop.json', 'started/*', 'throttled/*', 'planned/*'],
  // One role for both steps of the reducer. The Gate reads the record, the waves and the stop
  // marker (and lists the throttled markers), records lost targets (an outcome and a failure
  // marker each) and writes the halt; Reduce reads the record, the spec, the halt, the waves,
  // the outcomes and what a resume inherited, and writes the reports, the stack outputs and the
  // resume input.
  // Plan writes a plan-first run's plan from the targets' plans (the Gate records a lost
  // target's); Approval reads the approval, or writes the expiry's.
  reducerGet: ['run.json', 'spec.json', 'waves/*', 'outcomes/*', 'stop.json', 'halt.json', 'inherited.json', 'planned/*', 'plan.json', 'approval.json'],
  reducerPut: [
    'outcomes/*',
    'failed/*',
    'halt.json',
    'report.json',
    'report.md',
    'resume-input.json',
    'outputs.json',
    'planned/*',
    'plan.json',
    'plan.md',
    'approval.json',
  ],
  // report.md is not read by the CLI: it is the one people open from the console. `rerun` starts
  // the resume input as Reduce wrote it; `outputs` prints outputs.json.
  operatorGet: ['report.json', 'report.md', 'resume-input.json', 'outputs.json'],
  // `approve` checks the groups against the plan and writes the approval: the one record of a
  // run that a person writes (see approvalWriterStatement).
  approverGet: ['plan.json', 'plan.md'],
  approverPut: ['approval.json'],
} as const;

/** Objects of `bucket` under `runs/<any run>/` matching `pattern` (e.g. `outcomes/*`). */
export function runObjects(bucket: s3.IBucket, ...patterns: string[]): string[] {
  return patterns.map((pattern) => `${bucket.bucketArn}/runs/*/${pattern}`);
}

function allow(actions: string[], resources: string[], conditions?: Record<string, unknown>): iam.PolicyStatement {
  return new iam.PolicyStatement({ effect: iam.Effect.ALLOW, actions, resources, conditions });
}

/** ListBucket of `bucket`, only for listings under the given key patterns. */
function listUnder(bucket: s3.IBucket, prefixes: string[]): iam.PolicyStatement {
  return allow(['s3:ListBucket'], [bucket.bucketArn], { StringLike: { 's3:prefix': prefixes } });
}

/**
 * ListBucket of `bucket` without a condition, for a role that reads keys that are often absent.
 * Without ListBucket S3 answers a missing key with 403 instead of 404 (NoSuchKey), which the
 * functions take for AccessDenied, not for "absent". S3 makes that check without an s3:prefix, so
 * it cannot be narrowed by one. A listing shows key names only (run IDs, ACCOUNT-REGION), never
 * an object's content.
 */
function listAnyKey(bucket: s3.IBucket): iam.PolicyStatement {
  return allow(['s3:ListBucket'], [bucket.bucketArn]);
}

/**
 * The alarm gates: Discover checks that every alarm the document names exists, the Gate reads
 * their states. DescribeAlarms can be scoped to alarm ARNs, but CloudWatch then leaves composite
 * alarms out of its answer (the API reference: composite alarms need "the cloudwatch:DescribeAlarms
 * permission that is scoped to *"), and the functions ask for composite alarms too: one would read
 * as "not found" at Discover and refuse the rollout. So `*`, for this one read-only action.
 */
function describeAlarms(): iam.PolicyStatement {
  return allow(['cloudwatch:DescribeAlarms'], ['*']);
}

export interface ListerGrants {
  readonly bucket: s3.IBucket;
  /**
   * Template objects the lister reads to pin a run to one version (GetObject, GetObjectVersion)
   * and that ValidateTemplate reads as the lister: `BUCKET/KEY` or `BUCKET/*`.
   */
  readonly templateObjects: string[];
}

/** An object or object pattern `BUCKET/KEY` as an ARN. */
export const s3ObjectArn = (object: string): string => `arn:${Aws.PARTITION}:s3:::${object}`;

/**
 * Discover: list the Organization, pin and validate the template once, check that the alarms
 * exist, read a resumed run's record and report, write the run's records.
 */
export function listerStatements({ bucket, templateObjects }: ListerGrants): iam.PolicyStatement[] {
  return [
    // Organizations and ValidateTemplate have no resource-level permissions: Resource must be `*`.
    allow(
      [
        'organizations:DescribeOrganization',
        'organizations:DescribeAccount',
        'organizations:ListAccounts',
        'organizations:ListAccountsForParent',
        'organizations:ListOrganizationalUnitsForParent',
        'organizations:ListTagsForResource',
        'cloudformation:ValidateTemplate',
      ],
      ['*'],
    ),
    describeAlarms(),
    allow(['s3:GetObject'], runObjects(bucket, ...RUN_KEYS.listerGet)),
    allow(['s3:PutObject'], runObjects(bucket, ...RUN_KEYS.listerPut)),
    // A resume of a run that does not exist, or has no report yet, must read as absent.
    listAnyKey(bucket),
    // The template's current version (GetObject, HeadObject) and that version again by its ID.
    allow(['s3:GetObject', 's3:GetObjectVersion'], templateObjects.map(s3ObjectArn)),
  ];
}

export interface WorkerGrants {
  readonly bucket: s3.IBucket;
  readonly deployRoleName: string;
  readonly organizationId: string;
  /** Names of the SSM parameters and secrets a rollout's parameters may refer to start with it. */
  readonly secretPrefix: string;
  /** Customer managed keys those parameters and secrets are encrypted with; none for AWS managed keys. */
  readonly secretKmsKeyArns: string[];
}

/** The deploy role in any account: the condition beside it keeps the accounts to the Organization. */
export function deployRoleArnPattern(deployRoleName: string): string {
  return `arn:${Aws.PARTITION}:iam::*:role/${deployRoleName}`;
}

/** SSM parameters `/<prefix>...` of this account and region (the ARN drops the leading slash). */
export const secretParameterArns = (prefix: string): string =>
  `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter/${prefix}*`;
/** Secrets Manager secrets `<prefix>...` of this account and region (the ARN ends in a random suffix). */
export const secretArns = (prefix: string): string =>
  `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${prefix}*`;

/**
 * One target's lifecycle: assume the deploy role there, read the spec, honour the stop marker,
 * record the outcome, and after a failure count the wave's failures against its budget. And
 * resolve the parameters given by reference ({{resolve:ssm-secure:/<prefix>...}},
 * {{resolve:secretsmanager:<prefix>...}}) when it calls CloudFormation, so that no secret is
 * ever in an input, a record or an environment.
 */
export function workerStatements({
  bucket,
  deployRoleName,
  organizationId,
  secretPrefix,
  secretKmsKeyArns,
}: WorkerGrants): iam.PolicyStatement[] {
  const statements = [
    // Whatever account an execution input names, only roles owned by this Organization's accounts.
    allow(['sts:AssumeRole'], [deployRoleArnPattern(deployRoleName)], {
      StringEquals: { 'aws:ResourceOrgID': organizationId },
    }),
    allow(['s3:GetObject'], runObjects(bucket, ...RUN_KEYS.workerGet)),
    allow(['s3:PutObject'], runObjects(bucket, ...RUN_KEYS.workerPut)),
    // Usually absent: the stop marker, a target's started marker, and the outcome RecordFailure
    // reads first (a 403 there would leave the failure unrecorded). It also lists failed/<wave>/.
    listAnyKey(bucket),
    allow(['ssm:GetParameter'], [secretParameterArns(secretPrefix)]),
    allow(['secretsmanager:GetSecretValue'], [secretArns(secretPrefix)]),
  ];
  if (secretKmsKeyArns.length > 0) {
    // Only as SSM or Secrets Manager decrypt for the worker, never a direct Decrypt of anything else.
    statements.push(
      allow(['kms:Decrypt'], secretKmsKeyArns, {
        StringEquals: {
          'kms:ViaService': ['ssm', 'secretsmanager'].map((service) => `${service}.${Aws.REGION}.${Aws.URL_SUFFIX}`),
        },
      }),
    );
  }
  return statements;
}

/**
 * The reducer's two steps. Gate: hand the Map the next part of a wave, record the targets it
 * lost, count failures against the budgets, read the alarms, halt. Reduce: read every outcome of
 * the run, write the report and the resume input next to them.
 */
export function reducerStatements(bucket: s3.IBucket): iam.PolicyStatement[] {
  return [
    allow(['s3:GetObject'], runObjects(bucket, ...RUN_KEYS.reducerGet)),
    allow(['s3:PutObject'], runObjects(bucket, ...RUN_KEYS.reducerPut)),
    // Usually absent: the stop marker (Gate) and the halt (Reduce). Both steps list outcomes/;
    // the Gate lists failed/ and failed/<wave>/ for the budgets, and throttled/<wave>/ for the pace.
    listAnyKey(bucket),
    describeAlarms(),
  ];
}

/** ARNs of the state machine named `name` and of what it starts, built without referencing it. */
export class StateMachineArns {
  constructor(
    private readonly stack: Stack,
    private readonly name: string,
  ) {}

  get stateMachine(): string {
    return this.format('stateMachine', this.name);
  }

  /** Its executions: `execution:<name>:<id>`. */
  get executions(): string {
    return this.format('execution', `${this.name}:*`);
  }

  /** The child executions its Distributed Map starts: `execution:<name>/<map label>:<id>`. */
  get childExecutions(): string {
    return this.format('execution', `${this.name}/*`);
  }

  /** Its Distributed Map runs: `mapRun:<name>/<label>:<id>` (Service Authorization Reference). */
  get mapRuns(): string {
    return this.format('mapRun', `${this.name}/*`);
  }

  private format(resource: string, resourceName: string): string {
    return this.stack.formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  }
}

/**
 * The Distributed Map starts child executions of this very state machine and watches them;
 * the Task states invoke the three functions (unqualified, or any version or alias).
 */
export function stateMachineStatements(arns: StateMachineArns, functionArns: string[]): iam.PolicyStatement[] {
  return [
    allow(['states:StartExecution'], [arns.stateMachine]),
    allow(['states:DescribeExecution', 'states:StopExecution'], [arns.executions, arns.childExecutions]),
    allow(['lambda:InvokeFunction'], functionArns.flatMap((arn) => [arn, `${arn}:*`])),
  ];
}

/** The pipeline or person running `stackfleet start/status/watch/rerun/report`. */
export function operatorStatements(arns: StateMachineArns, bucket: s3.IBucket): iam.PolicyStatement[] {
  return [
    allow(['states:StartExecution', 'states:ListTagsForResource'], [arns.stateMachine]),
    // StopExecution is not called by the CLI: it lets the same pipeline abort a rollout it started.
    allow(
      ['states:DescribeExecution', 'states:GetExecutionHistory', 'states:ListMapRuns', 'states:StopExecution'],
      [arns.executions],
    ),
    allow(['states:DescribeMapRun'], [arns.mapRuns]),
    allow(['s3:GetObject'], runObjects(bucket, ...RUN_KEYS.operatorGet)),
    // `status` counts failures live from the empty markers under failed/.
    listUnder(bucket, ['runs/*/failed/', 'runs/*/failed/*']),
  ];
}

/**
 * Whoever approves plan-first runs' plans (`stackfleet approve`): reads the execution (its run
 * and plan digest) and the plan, and writes the approval. Nothing else: approving is not
 * starting, and the approval names only groups of a plan the reducer wrote.
 */
export function approverStatements(arns: StateMachineArns, bucket: s3.IBucket, { operator }: { operator: boolean }): iam.PolicyStatement[] {
  const records = [
    allow(['s3:GetObject'], runObjects(bucket, ...RUN_KEYS.approverGet)),
    allow(['s3:PutObject'], runObjects(bucket, ...RUN_KEYS.approverPut)),
  ];
  // The operator role reads executions already.
  if (operator) return records;
  return [
    allow(['states:ListTagsForResource'], [arns.stateMachine]),
    allow(['states:DescribeExecution', 'states:GetExecutionHistory'], [arns.executions]),
    ...records,
  ];
}

/**
 * The run bucket's own guard: its records are what the workers deploy (runs/RUN/spec.json) and
 * what the reducer judges (the waves, the outcomes), so no principal but the three functions'
 * roles writes or deletes an object in it, whatever its IAM policies say: an explicit Deny in
 * the bucket policy, by aws:PrincipalArn (a role session's is its role's ARN). The whole bucket,
 * not only runs/: nothing else belongs there. Object writes only: the bucket's configuration
 * (lifecycle, versioning, this policy) is CloudFormation's to update, and S3 always lets the
 * account's root user replace or delete a bucket policy, so a bucket policy cannot guard itself;
 * an SCP can (README, "Security model").
 */
export function runBucketWriterStatement(bucket: s3.IBucket, writerRoleArns: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'OnlyTheFunctionsWriteRecords',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: RUN_BUCKET_OBJECT_WRITES,
    notResources: [approvalObjects(bucket)],
    conditions: { ArnNotEquals: { 'aws:PrincipalArn': writerRoleArns } },
  });
}

/**
 * A plan-first run's approval: written only by the approver roles (a person's decision) and the
 * reducer (a plan's expiry, which approves nothing). What it can approve is bounded by the plan
 * the reducer wrote, which nobody else writes.
 */
export function approvalWriterStatement(bucket: s3.IBucket, writerRoleArns: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'OnlyApproversWriteApprovals',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: RUN_BUCKET_OBJECT_WRITES,
    resources: [approvalObjects(bucket)],
    conditions: { ArnNotEquals: { 'aws:PrincipalArn': writerRoleArns } },
  });
}

function approvalObjects(bucket: s3.IBucket): string {
  return `${bucket.bucketArn}/runs/*/${RUN_KEYS.approverPut[0]}`;
}

/** Every way to change or remove an object of the run bucket, or to bring one in. */
export const RUN_BUCKET_OBJECT_WRITES = [
  's3:PutObject',
  's3:PutObjectAcl',
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:ReplicateObject',
  's3:ReplicateDelete',
];

/** A principal from an account ID (12 digits) or an ARN. */
export function operatorPrincipal(principal: string): iam.IPrincipal {
  return /^\d{12}$/.test(principal) ? new iam.AccountPrincipal(principal) : new iam.ArnPrincipal(principal);
}
