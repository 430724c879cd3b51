import { Match } from 'aws-cdk-lib/assertions';
import { exampleSpec, logicalId, render, synth, Synth } from './support';

describe('GIVEN the stack with the example default spec', () => {
  let fleet: Synth;
  beforeAll(() => {
    fleet = synth();
  });
  const fn = (name: 'lister' | 'worker' | 'reducer') =>
    fleet.template.toJSON().Resources[logicalId(fleet.stack.fleet[name])].Properties;

  test('THEN the three functions are Rust on arm64 provided.al2023, traced; the worker 128 MB, the others 256 MB', () => {
    for (const name of ['lister', 'worker', 'reducer'] as const) {
      expect(fn(name)).toMatchObject({
        Architectures: ['arm64'],
        Runtime: 'provided.al2023',
        Handler: 'bootstrap',
        TracingConfig: { Mode: 'Active' },
      });
    }
    // The worker's idle seconds inside an invocation are what core's poll schedule prices
    // (lifecycle/schedule.rs, WAIT_INSIDE_INVOCATION: 45 s at 128 MB).
    expect([fn('lister').MemorySize, fn('worker').MemorySize, fn('reducer').MemorySize]).toEqual([256, 128, 256]);
    expect([fn('lister').Timeout, fn('worker').Timeout, fn('reducer').Timeout]).toEqual([900, 150, 900]);
  });

  test('THEN each function logs to its own log group, kept for a set time', () => {
    const groups = (['lister', 'worker', 'reducer'] as const).map((name) => render(fn(name).LoggingConfig.LogGroup));
    expect(new Set(groups).size).toBe(3);
    const logGroups = fleet.template.findResources('AWS::Logs::LogGroup');
    for (const group of groups) {
      expect(logGroups[group.slice(1, -1)].Properties.RetentionInDays).toBe(90);
    }
  });

  test('THEN every function knows the bucket, the lister its default spec and what an input may change, and the worker no poll budget', () => {
    const bucket = `<${logicalId(fleet.stack.fleet.bucket)}>`;
    const environment = (name: 'lister' | 'worker' | 'reducer') => fn(name).Environment.Variables;
    expect(Object.keys(environment('lister')).sort()).toEqual([
      'STACKFLEET_ACCEPT',
      'STACKFLEET_BUCKET',
      'STACKFLEET_DEFAULT_SPEC',
      'STACKFLEET_INPUT_FIELDS',
      'STACKFLEET_WORKER_CONCURRENCY',
    ]);
    expect(environment('lister').STACKFLEET_INPUT_FIELDS).toBe('targets concurrency failureTolerance waves');
    expect(environment('lister').STACKFLEET_ACCEPT).toBe('any');
    expect(Object.keys(environment('worker'))).toEqual(['STACKFLEET_BUCKET']);
    expect(Object.keys(environment('reducer'))).toEqual(['STACKFLEET_BUCKET']);
    for (const name of ['lister', 'worker', 'reducer'] as const) {
      expect(render(environment(name).STACKFLEET_BUCKET)).toBe(bucket);
    }
    expect(JSON.parse(environment('lister').STACKFLEET_DEFAULT_SPEC)).toEqual(exampleSpec());
  });

  test('THEN the records bucket is private, encrypted, TLS-only, versioned, kept, and expires runs/', () => {
    const bucketId = logicalId(fleet.stack.fleet.bucket);
    const bucket = fleet.template.toJSON().Resources[bucketId];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: [
          expect.objectContaining({
            Prefix: 'runs/',
            Status: 'Enabled',
            ExpirationInDays: 90,
            NoncurrentVersionExpiration: { NoncurrentDays: 7 },
          }),
        ],
      },
    });
    fleet.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  test('THEN the state machine is STANDARD, logs every event without execution data, traces, and names its bucket', () => {
    const stateMachine = fleet.template.findResources('AWS::StepFunctions::StateMachine');
    expect(Object.keys(stateMachine)).toHaveLength(1);
    const props = Object.values(stateMachine)[0].Properties;
    expect(props).toMatchObject({
      StateMachineName: 'stackfleet',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
    expect(props.Tags).toEqual([
      { Key: 'stackfleet:accept', Value: 'any' },
      { Key: 'stackfleet:bucket', Value: { Ref: logicalId(fleet.stack.fleet.bucket) } },
      { Key: 'stackfleet:input-fields', Value: 'targets concurrency failureTolerance waves' },
    ]);
    const logGroup = render(props.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn);
    expect(fleet.template.findResources('AWS::Logs::LogGroup')[logGroup.slice(1, -5)].Properties.LogGroupName).toBe(
      '/aws/vendedlogs/states/stackfleet',
    );
  });

  test('THEN only the state machine carries the stackfleet tags, not the roles beside it', () => {
    for (const role of Object.values(fleet.template.findResources('AWS::IAM::Role'))) {
      const keys = ((role.Properties.Tags ?? []) as { Key: string }[]).map((tag) => tag.Key);
      expect(keys.filter((key) => key.startsWith('stackfleet:'))).toEqual([]);
    }
  });

  test.each([
    ['aws.organizations', { eventName: ['CreateAccountResult'], serviceEventDetails: { createAccountStatus: { state: ['SUCCEEDED'] } } }],
    [
      'aws.controltower',
      { eventName: ['CreateManagedAccount'], serviceEventDetails: { createManagedAccountStatus: { state: ['SUCCEEDED'] } } },
    ],
  ])('THEN a rule starts the state machine on %s new-account events, retrying, with a dead-letter queue', (source, detail) => {
    const stateMachineId = logicalId(fleet.stack.fleet.stateMachine);
    const queueId = logicalId(fleet.stack.fleet.deadLetterQueue);
    fleet.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: [source], 'detail-type': ['AWS Service Event via CloudTrail'], detail },
      Targets: [
        Match.objectLike({
          Arn: { Ref: stateMachineId },
          // No Input: the raw event is the execution input, as the lister expects.
          Input: Match.absent(),
          InputPath: Match.absent(),
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 21600 },
        }),
      ],
    });
  });

  test('THEN the dead-letter queue is encrypted and TLS-only', () => {
    const queueId = logicalId(fleet.stack.fleet.deadLetterQueue);
    fleet.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    fleet.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('THEN an alarm on failed, timed-out and aborted executions notifies a TLS-only topic', () => {
    const topic = { Ref: logicalId(fleet.stack.fleet.alarmTopic) };
    const stateMachine = { Ref: logicalId(fleet.stack.fleet.stateMachine) };
    const metric = (name: string) =>
      Match.objectLike({
        MetricStat: Match.objectLike({
          Metric: { Namespace: 'AWS/States', MetricName: name, Dimensions: [{ Name: 'StateMachineArn', Value: stateMachine }] },
        }),
      });
    fleet.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: [topic],
      Threshold: 1,
      Metrics: Match.arrayWith([
        metric('ExecutionsFailed'),
        metric('ExecutionsTimedOut'),
        metric('ExecutionsAborted'),
      ]),
    });
    fleet.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topic],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      },
    });
  });

  test('THEN undelivered new-account events raise an alarm too', () => {
    fleet.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      AlarmActions: [{ Ref: logicalId(fleet.stack.fleet.alarmTopic) }],
    });
  });

  test('THEN there is no operator role, no email subscription, and the outputs say where things are', () => {
    expect(fleet.stack.fleet.operatorRole).toBeUndefined();
    fleet.template.resourceCountIs('AWS::IAM::Role', 5); // three functions, the state machine, EventBridge
    fleet.template.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(Object.keys(fleet.template.findOutputs('*')).sort()).toEqual([
      'AlarmTopicArn',
      'BucketName',
      'ListerRoleArn',
      'StateMachineArn',
      'WorkerRoleArn',
    ]);
  });
});

describe('GIVEN operator principals, an alarm email and a retention', () => {
  test('THEN an operator role trusts exactly them, the email is subscribed, runs expire as asked', () => {
    const { template } = synth({
      operatorPrincipals: ['222222222222', 'arn:aws:iam::333333333333:role/pipeline'],
      alarmEmail: 'platform@example.com',
      runRetentionDays: 30,
    });
    const operator = Object.values(template.findResources('AWS::IAM::Role')).filter(
      (role) => role.Properties.Description?.startsWith('Starts and follows'),
    );
    expect(operator).toHaveLength(1);
    const principals = operator[0].Properties.AssumeRolePolicyDocument.Statement.map(
      (s: { Principal: { AWS: unknown } }) => render(s.Principal.AWS),
    );
    expect(principals.sort()).toEqual(['arn:<AWS::Partition>:iam::222222222222:root', 'arn:aws:iam::333333333333:role/pipeline']);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'platform@example.com' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ Prefix: 'runs/', ExpirationInDays: 30 })] },
    });
    expect(Object.keys(template.findOutputs('*'))).toContain('OperatorRoleArn');
  });
});
