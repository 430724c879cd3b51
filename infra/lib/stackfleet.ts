/**
 * stackfleet's serverless path: the three Rust Lambdas, the state machine that sequences them,
 * the bucket that keeps each run's records, the new-account triggers and the failure alarm.
 */
import * as path from 'node:path';
import { Annotations, Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { checkProps } from './check-props';
import { ReservedConcurrency, reservedConcurrency } from './concurrency';
import { defaultSpecJson, defaultTemplateObject, deployRoleName } from './default-spec';
import { suppressAcceptedFindings } from './nag-suppressions';
import * as permissions from './permissions';
import { Accept, acceptsField, EVERY_FIELD, inputFieldsTag } from './trust';

const REPO_ROOT = path.join(__dirname, '..', '..');

/** The worker polls a running stack operation inside one invocation until its own deadline
 * (the Lambda context's, less HAND_BACK_MARGIN, 60 s, for the last poll and the S3 write), then
 * hands it back to the state machine: this timeout is the only setting. The ASL's Task
 * TimeoutSeconds (330) is larger still, so Lambda's timeout is the one that fires, and a retried
 * States.Timeout never overlaps a live invocation. test/state-machine.test.ts holds the three. */
const WORKER_TIMEOUT = Duration.seconds(150);
/** The worker's memory: the smallest Lambda offers, half the price of every second it waits
 * inside an invocation for an operation's early looks (its peak RSS is about 20 MiB: README,
 * "Lambda footprint"). core's lifecycle/schedule.rs prices that wait at this size
 * (WAIT_INSIDE_INVOCATION), and tests/statemachine/cost.mjs too. */
const WORKER_MEMORY_MB = 128;
/** The lister and reducer hold a whole Organization's listing or a run's outcomes. */
const LISTER_REDUCER_MEMORY_MB = 256;
/** Discover lists a whole Organization and Reduce reads every outcome: Lambda's maximum. The
 * reducer also serves the Gate step, whose Task gives up at 300 s (TimeoutSeconds in the ASL), so
 * for the Gate the Task's timeout, not this one, is the limit: see test/state-machine.test.ts. */
const LISTER_REDUCER_TIMEOUT = Duration.seconds(900);

export interface StackfleetProps {
  /** The Organization whose accounts the worker may deploy to, e.g. `o-abc123defg`. */
  readonly organizationId: string;
  /**
   * What a new-account event deploys, and what every execution input is merged over (an input
   * may change only the fields of `inputFields`): the policy of this machine. A rollout document,
   * checked at synth against schema/rollout.schema.json, the schema of the Rust types, with its
   * template in S3 and no administrator deploy role unless `accept` or `allowAdminDeployRole`
   * says otherwise.
   */
  readonly defaultSpec: Record<string, unknown>;
  /** @default 'stackfleet' (fixed, so that its own policy can name it without a circular reference) */
  readonly stateMachineName?: string;
  /** Fixed, because every member account's deploy role trusts it by ARN. @default 'stackfleet-worker' */
  readonly workerRoleName?: string;
  /** Days a run's records are kept. @default 90 */
  readonly runRetentionDays?: number;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** Subscribed to the alarm topic when given. */
  readonly alarmEmail?: string;
  /** ARNs or account IDs allowed to assume an operator role; no role when absent. */
  readonly operatorPrincipals?: string[];
  /**
   * ARNs or account IDs allowed to assume an approver role: `stackfleet approve` for plan-first
   * runs (`mode: plan`), and nothing else. Absent, the operator role approves too; name
   * approvers here to keep starting and approving apart. @default none
   */
  readonly approverPrincipals?: string[];
  /**
   * Buckets of templates an execution input may name in template.url (with `template` in
   * inputFields), besides the default spec's. The lister reads (pins) and validates any object
   * of them. The default spec's own template object is always granted. @default none
   */
  readonly templateBucketNames?: string[];
  /**
   * The fields of the default spec an execution input may change: top-level fields of the rollout
   * document, or `parameters.NAME`. Any other field in an input is refused by the lister.
   * `['*']`: every field, the targets unbounded (synth warns: StartExecution is then as strong as
   * the deploy role everywhere). `[]`: no change at all (resume and alarms are always accepted).
   * @default targets, concurrency, failureTolerance, waves
   */
  readonly inputFields?: string[];
  /**
   * `new-account`: the lister refuses every input but a new-account event, which deploys exactly
   * the default spec (the machine that installs the deploy role). @default 'any'
   */
  readonly accept?: Accept;
  /**
   * Lets the default spec's deploy role be OrganizationAccountAccessRole or
   * AWSControlTowerExecution on a machine that accepts any input. @default false
   */
  readonly allowAdminDeployRole?: boolean;
  /**
   * Parameters given by reference name SSM parameters `/<prefix>...` or secrets `<prefix>...` of
   * this account and region; the worker may read those only. @default 'stackfleet/'
   */
  readonly secretPrefix?: string;
  /** Customer managed KMS keys of those parameters and secrets (key ARNs). @default none */
  readonly secretKmsKeyArns?: string[];
  /** The workspace manifest whose package `stackfleet-lambda` has the three binaries. @default the repository's */
  readonly manifestPath?: string;
  /** @default the repository's statemachine.asl.json */
  readonly definitionPath?: string;
  /**
   * Reserved concurrency of the lister, the worker and the reducer, out of the account's Lambda
   * concurrency quota, which must leave 100 unreserved. The worker's bounds every execution's
   * `concurrency`: the lister refuses a run that asks for more. `false`: nothing reserved (for
   * an account whose quota cannot spare it); a rollout then competes with the account's other
   * functions, and no concurrency is refused. @default see ReservedConcurrency
   */
  readonly reservedConcurrency?: ReservedConcurrency | false;
}

export class Stackfleet extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly stateMachineName: string;
  public readonly stateMachine: sfn.StateMachine;
  public readonly lister: lambda.Function;
  public readonly worker: lambda.Function;
  public readonly reducer: lambda.Function;
  public readonly workerRole: iam.Role;
  public readonly operatorRole?: iam.Role;
  /** Writes plan-first runs' approvals: the approver role, else the operator role. */
  public readonly approverRole?: iam.Role;
  public readonly alarmTopic: sns.Topic;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: StackfleetProps) {
    super(scope, id);
    const { inputFields, accept } = checkProps(props);
    const reserved = reservedConcurrency(props.reservedConcurrency, props.defaultSpec);
    const stateMachineName = (this.stateMachineName = props.stateMachineName ?? 'stackfleet');
    const logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    const manifestPath = props.manifestPath ?? path.join(REPO_ROOT, 'Cargo.toml');

    this.bucket = this.recordsBucket(props.runRetentionDays ?? 90);

    const rustFunction = (
      name: string,
      role: iam.Role,
      timeout: Duration,
      reserved: number | undefined,
      environment: Record<string, string>,
      memorySize = LISTER_REDUCER_MEMORY_MB,
    ) => {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention: logRetention });
      logGroup.grantWrite(role);
      return new RustFunction(this, name, {
        manifestPath,
        binaryName: name.toLowerCase(),
        // The root manifest is also the CLI's package: name the one that has the binaries.
        bundling: { cargoLambdaFlags: ['--package', 'stackfleet-lambda'] },
        architecture: lambda.Architecture.ARM_64,
        runtime: 'provided.al2023',
        memorySize,
        timeout,
        reservedConcurrentExecutions: reserved,
        tracing: lambda.Tracing.ACTIVE,
        logGroup,
        role,
        environment: { STACKFLEET_BUCKET: this.bucket.bucketName, ...environment },
      });
    };

    const listerRole = lambdaRole(this, 'ListerRole');
    const template = defaultTemplateObject(props.defaultSpec);
    // Unless an input may name another template, the lister reads the default's object alone.
    const templateObjects = [
      acceptsField(inputFields, 'template') ? `${template.bucket}/*` : `${template.bucket}/${template.key}`,
      ...(props.templateBucketNames ?? []).map((name) => `${name}/*`),
    ];
    permissions
      .listerStatements({ bucket: this.bucket, templateObjects })
      .forEach((statement) => listerRole.addToPrincipalPolicy(statement));
    this.lister = rustFunction('Lister', listerRole, LISTER_REDUCER_TIMEOUT, reserved?.lister, {
      STACKFLEET_DEFAULT_SPEC: defaultSpecJson(props.defaultSpec),
      STACKFLEET_INPUT_FIELDS: inputFields.join(' '),
      STACKFLEET_ACCEPT: accept,
      // The most targets at once that the worker can serve: the lister refuses a run asking more.
      ...(reserved && { STACKFLEET_WORKER_CONCURRENCY: String(reserved.worker) }),
    });

    this.workerRole = lambdaRole(this, 'WorkerRole', props.workerRoleName ?? 'stackfleet-worker');
    const secretPrefix = props.secretPrefix ?? 'stackfleet/';
    permissions
      .workerStatements({
        bucket: this.bucket,
        deployRoleName: deployRoleName(props.defaultSpec),
        organizationId: props.organizationId,
        secretPrefix,
        secretKmsKeyArns: props.secretKmsKeyArns ?? [],
      })
      .forEach((statement) => this.workerRole.addToPrincipalPolicy(statement));
    this.worker = rustFunction('Worker', this.workerRole, WORKER_TIMEOUT, reserved?.worker, {}, WORKER_MEMORY_MB);

    const reducerRole = lambdaRole(this, 'ReducerRole');
    permissions.reducerStatements(this.bucket).forEach((statement) => reducerRole.addToPrincipalPolicy(statement));
    this.reducer = rustFunction('Reducer', reducerRole, LISTER_REDUCER_TIMEOUT, reserved?.reducer, {});
    this.bucket.addToResourcePolicy(
      permissions.runBucketWriterStatement(this.bucket, [listerRole, this.workerRole, reducerRole].map((role) => role.roleArn)),
    );

    const arns = new permissions.StateMachineArns(Stack.of(this), stateMachineName);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(props.definitionPath ?? path.join(REPO_ROOT, 'statemachine.asl.json')),
      // Every ${...} placeholder of the ASL; the jest test holds this list against the file.
      definitionSubstitutions: {
        ListerFunctionArn: this.lister.functionArn,
        WorkerFunctionArn: this.worker.functionArn,
        ReducerFunctionArn: this.reducer.functionArn,
      },
      logs: {
        // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy from growing per group.
        destination: new logs.LogGroup(this, 'StateMachineLogs', {
          logGroupName: `/aws/vendedlogs/states/${stateMachineName}`,
          retention: logRetention,
        }),
        level: sfn.LogLevel.ALL,
        // Execution inputs carry stack parameters, which may be secrets.
        includeExecutionData: false,
      },
      tracingEnabled: true,
    });
    // A definition from a file derives no policy: every permission is granted here, by hand.
    permissions
      .stateMachineStatements(arns, [this.lister, this.worker, this.reducer].map((fn) => fn.functionArn))
      .forEach((statement) => this.stateMachine.addToRolePolicy(statement));
    // The CLI's operator commands find the reports through this tag (ListTagsForResource). On
    // the CloudFormation resource alone: Tags.of(stateMachine) would tag its roles too.
    // `stackfleet start` reads what the machine accepts from the other two, to refuse an input
    // before sending it. Tag values hold no commas: the fields are separated by spaces.
    const stateMachineResource = this.stateMachine.node.defaultChild as sfn.CfnStateMachine;
    Tags.of(stateMachineResource).add('stackfleet:bucket', this.bucket.bucketName);
    Tags.of(stateMachineResource).add('stackfleet:input-fields', inputFieldsTag(inputFields));
    if (inputFields.includes(EVERY_FIELD)) {
      Annotations.of(this).addWarningV2(
        'stackfleet:input-fields-everything',
        `inputFields is ${EVERY_FIELD}: an execution input may change every field (template, parameters, capabilities, ` +
          'deploy role) and target any account of the Organization, so states:StartExecution on this machine is as ' +
          'strong as its deploy role in every account. Name the fields a pipeline needs instead, unless that is meant.',
      );
    }
    Tags.of(stateMachineResource).add('stackfleet:accept', accept);

    this.deadLetterQueue = this.newAccountTriggers();
    this.alarmTopic = this.alarms(props.alarmEmail);

    if (props.operatorPrincipals?.length) {
      this.operatorRole = new iam.Role(this, 'OperatorRole', {
        description: 'Starts and follows stackfleet rollouts, and reads their reports',
        assumedBy: new iam.CompositePrincipal(...props.operatorPrincipals.map(permissions.operatorPrincipal)),
      });
      permissions
        .operatorStatements(arns, this.bucket)
        .forEach((statement) => this.operatorRole!.addToPrincipalPolicy(statement));
    }
    if (props.approverPrincipals?.length) {
      this.approverRole = new iam.Role(this, 'ApproverRole', {
        description: 'Approves the plans of plan-first stackfleet rollouts (stackfleet approve), and nothing else',
        assumedBy: new iam.CompositePrincipal(...props.approverPrincipals.map(permissions.operatorPrincipal)),
      });
    } else {
      this.approverRole = this.operatorRole;
    }
    if (this.approverRole) {
      const approver = this.approverRole;
      permissions
        .approverStatements(arns, this.bucket, { operator: approver === this.operatorRole })
        .forEach((statement) => approver.addToPrincipalPolicy(statement));
    }
    // The approval is the one record a person writes: the approver role and the reducer (a
    // plan's expiry) only.
    this.bucket.addToResourcePolicy(
      permissions.approvalWriterStatement(this.bucket, [reducerRole.roleArn, ...(this.approverRole ? [this.approverRole.roleArn] : [])]),
    );

    suppressAcceptedFindings(this, {
      deployRoleName: deployRoleName(props.defaultSpec),
      templateObjects,
      secretPrefix,
    });
  }

  private recordsBucket(runRetentionDays: number): s3.Bucket {
    const common = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Reports are an audit trail of what was deployed where: they outlive the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    };
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: Duration.days(runRetentionDays) }],
    });
    const records = new s3.Bucket(this, 'Records', {
      ...common,
      versioned: true,
      lifecycleRules: [
        {
          id: 'ExpireRuns',
          prefix: 'runs/',
          expiration: Duration.days(runRetentionDays),
          // Versioning guards against an overwrite by mistake, not for keeping history.
          noncurrentVersionExpiration: Duration.days(7),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    // Server access logging by hand rather than `serverAccessLogsBucket`, which without the
    // serverAccessLogsUseBucketPolicy feature flag grants S3 through an ACL, impossible on a
    // bucket that disables ACLs (BUCKET_OWNER_ENFORCED). The construct must not depend on a flag.
    const logPrefix = 'records/';
    (records.node.defaultChild as s3.CfnBucket).loggingConfiguration = {
      destinationBucketName: accessLogs.bucketName,
      logFilePrefix: logPrefix,
    };
    accessLogs.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [accessLogs.arnForObjects(`${logPrefix}*`)],
        conditions: {
          ArnLike: { 'aws:SourceArn': records.bucketArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        },
      }),
    );
    return records;
  }

  /**
   * A new account gets the default spec at once. Organizations delivers CreateAccountResult in
   * us-east-1 only (deploy the stack there for this rule to fire); Control Tower's
   * CreateManagedAccount arrives in its home region. The lister recognises both raw events.
   */
  private newAccountTriggers(): sqs.Queue {
    const deadLetterQueue = new sqs.Queue(this, 'NewAccountDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const target = new targets.SfnStateMachine(this.stateMachine, {
      deadLetterQueue,
      retryAttempts: 10,
      maxEventAge: Duration.hours(6),
    });
    const cloudTrailEvent = 'AWS Service Event via CloudTrail';
    new events.Rule(this, 'OrganizationsNewAccount', {
      description: 'stackfleet: deploy the default spec to an account Organizations created',
      eventPattern: {
        source: ['aws.organizations'],
        detailType: [cloudTrailEvent],
        detail: {
          eventName: ['CreateAccountResult'],
          serviceEventDetails: { createAccountStatus: { state: ['SUCCEEDED'] } },
        },
      },
      targets: [target],
    });
    new events.Rule(this, 'ControlTowerNewAccount', {
      description: 'stackfleet: deploy the default spec to an account Control Tower enrolled',
      eventPattern: {
        source: ['aws.controltower'],
        detailType: [cloudTrailEvent],
        detail: {
          eventName: ['CreateManagedAccount'],
          serviceEventDetails: { createManagedAccountStatus: { state: ['SUCCEEDED'] } },
        },
      },
      targets: [target],
    });
    return deadLetterQueue;
  }

  /** Someone hears of a rollout that ended badly, or of a new account that was never rolled out to. */
  private alarms(alarmEmail: string | undefined): sns.Topic {
    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'stackfleet alarms', enforceSSL: true });
    // The topic has its own policy (enforceSSL), so CloudWatch is let in by name.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    if (alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(alarmEmail));
    const action = new cloudwatchActions.SnsAction(topic);

    const period = Duration.minutes(5);
    const notSucceeded = new cloudwatch.MathExpression({
      // No datapoint means no execution ended that way: FILL makes it a zero, not missing data.
      expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
      usingMetrics: {
        failed: this.stateMachine.metricFailed({ period, statistic: 'Sum' }),
        timedOut: this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
        aborted: this.stateMachine.metricAborted({ period, statistic: 'Sum' }),
      },
      label: 'Executions failed, timed out or aborted',
      period,
    });
    notSucceeded
      .createAlarm(this, 'ExecutionsNotSucceeded', {
        alarmDescription:
          'A stackfleet rollout halted between waves, failed beyond its tolerance, timed out or was aborted: see `stackfleet report EXECUTION_ARN`.',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      })
      .addAlarmAction(action);

    this.deadLetterQueue
      .metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' })
      .createAlarm(this, 'NewAccountEventsUndelivered', {
        alarmDescription:
          'A new-account event could not start the state machine: the account has not had the default spec. Read the queue, then start an execution for it.',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      })
      .addAlarmAction(action);
    return topic;
  }
}

function lambdaRole(scope: Construct, id: string, roleName?: string): iam.Role {
  return new iam.Role(scope, id, { roleName, assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
}
