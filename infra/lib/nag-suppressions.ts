/**
 * The cdk-nag AwsSolutions findings this construct accepts, each on the resource it is about,
 * with the exact wildcard it is about (`appliesTo`), so that any new wildcard still fails synth.
 */
import { CfnElement, Stack } from 'aws-cdk-lib';
import { NagPackSuppression, NagSuppressions } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { RUN_KEYS } from './permissions';
import type { Stackfleet } from './stackfleet';

const IAM5 = 'AwsSolutions-IAM5';

export interface AcceptedFindingsOptions {
  readonly deployRoleName: string;
  /** The lister's template objects, `BUCKET/KEY` or `BUCKET/*`. */
  readonly templateObjects: readonly string[];
  readonly secretPrefix: string;
}

export function suppressAcceptedFindings(
  fleet: Stackfleet,
  { deployRoleName, templateObjects, secretPrefix }: AcceptedFindingsOptions,
): void {
  const stack = Stack.of(fleet);
  const logicalId = (construct: IConstruct): string =>
    stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
  const bucketId = logicalId(fleet.bucket);
  const runObjects = (keys: readonly string[]): string[] =>
    keys.map((key) => `Resource::<${bucketId}.Arn>/runs/*/${key}`);
  const runRecords = (keys: readonly string[]): NagPackSuppression => ({
    id: IAM5,
    reason:
      'Run records are keyed by the execution name, known only at run time; the role gets only the ' +
      'object names it reads or writes under runs/<run>/ (see crates/core/src/run_keys.rs).',
    appliesTo: runObjects([...new Set(keys)]),
  });
  const xray = 'X-Ray PutTraceSegments and PutTelemetryRecords have no resource-level permissions.';
  const alarms =
    'cloudwatch:DescribeAlarms (the alarm gates, read-only) answers composite alarms only to a permission ' +
    'scoped to *; scoped to alarm ARNs, a composite alarm the document names would read as not found.';
  const anyTemplate = templateObjects.filter((object) => object.endsWith('/*'));
  const suppress = (construct: IConstruct, suppressions: NagPackSuppression[]) =>
    NagSuppressions.addResourceSuppressions(construct, suppressions, true);

  suppress(fleet.lister.role!, [
    {
      id: IAM5,
      reason:
        'organizations:DescribeOrganization, DescribeAccount, ListAccounts, ListAccountsForParent, ' +
        'ListOrganizationalUnitsForParent, ListTagsForResource and cloudformation:ValidateTemplate ' +
        `have no resource-level permissions (read-only calls). ${alarms} ${xray}`,
      appliesTo: ['Resource::*'],
    },
    runRecords([...RUN_KEYS.listerGet, ...RUN_KEYS.listerPut]),
    ...(anyTemplate.length
      ? [
          {
            id: IAM5,
            reason:
              'The lister pins (GetObject, GetObjectVersion) and validates the template at whatever key an ' +
              'execution input may name in template.url: only in the template buckets, read-only.',
            appliesTo: anyTemplate.map((object) => `Resource::arn:<AWS::Partition>:s3:::${object}`),
          },
        ]
      : []),
  ]);

  suppress(fleet.workerRole, [
    {
      id: IAM5,
      reason:
        'The deploy role has the same name in every member account, so the account is the wildcard; ' +
        'the aws:ResourceOrgID condition limits it to the accounts of this Organization.',
      appliesTo: [`Resource::arn:<AWS::Partition>:iam::*:role/${deployRoleName}`],
    },
    { id: IAM5, reason: xray, appliesTo: ['Resource::*'] },
    runRecords([...RUN_KEYS.workerGet, ...RUN_KEYS.workerPut]),
    {
      id: IAM5,
      reason:
        'Parameters given by reference name an SSM parameter or a secret at run time; the worker reads only ' +
        `those under the secret prefix (${secretPrefix}) of this account and region, to pass them to CloudFormation.`,
      appliesTo: [
        `Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${secretPrefix}*`,
        `Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${secretPrefix}*`,
      ],
    },
  ]);

  suppress(fleet.reducer.role!, [
    { id: IAM5, reason: `${alarms} ${xray}`, appliesTo: ['Resource::*'] },
    runRecords([...RUN_KEYS.reducerGet, ...RUN_KEYS.reducerPut]),
  ]);

  const executions = `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${fleet.stateMachineName}:*`;
  suppress(fleet.stateMachine.role, [
    {
      id: IAM5,
      reason:
        'CloudWatch Logs delivery (logs:CreateLogDelivery and the like) and X-Ray (PutTraceSegments, ' +
        'PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) have no resource-level permissions.',
      appliesTo: ['Resource::*'],
    },
    {
      id: IAM5,
      reason:
        "The Distributed Map describes and stops child executions of this state machine, whose names Step Functions generates at run time.",
      appliesTo: [executions, `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${fleet.stateMachineName}/*`],
    },
    {
      id: IAM5,
      reason: 'Invoking the three functions by a version or alias ARN too (function:NAME:QUALIFIER); no other function.',
      appliesTo: [fleet.lister, fleet.worker, fleet.reducer].map((fn) => `Resource::<${logicalId(fn)}.Arn>:*`),
    },
  ]);

  if (fleet.operatorRole) {
    suppress(fleet.operatorRole, [
      {
        id: IAM5,
        reason:
          "The operator commands follow any execution of this state machine and its Distributed Map runs, named at run time.",
        appliesTo: [
          executions,
          `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:mapRun:${fleet.stateMachineName}/*`,
        ],
      },
      runRecords(RUN_KEYS.operatorGet),
    ]);
  }
  if (fleet.approverRole && fleet.approverRole !== fleet.operatorRole) {
    suppress(fleet.approverRole, [
      {
        id: IAM5,
        reason: 'The approver reads any execution of this state machine (its run and plan digest), named at run time.',
        appliesTo: [executions],
      },
      runRecords([...RUN_KEYS.approverGet, ...RUN_KEYS.approverPut]),
    ]);
  } else if (fleet.operatorRole) {
    suppress(fleet.operatorRole, [runRecords([...RUN_KEYS.approverGet, ...RUN_KEYS.approverPut])]);
  }

  suppress(fleet.deadLetterQueue, [
    {
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the dead-letter queue of the new-account rules' targets; cdk-nag recognises only SQS redrive policies.",
    },
  ]);
}
