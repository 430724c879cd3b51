import { IConstruct } from 'constructs';
import {
  actionsOf,
  allStatements,
  asList,
  exampleSpec,
  logicalId,
  ORGANIZATION_ID,
  render,
  resourcesOf,
  Statement,
  statementsByRole,
  synth,
  Synth,
} from './support';

describe('GIVEN the stack with every optional part (operator role, template bucket)', () => {
  let fleet: Synth;
  let byRole: Map<string, Statement[]>;
  let bucketArn: string;
  beforeAll(() => {
    fleet = synth({
      operatorPrincipals: ['222222222222'],
      templateBucketNames: ['org-templates'],
    });
    byRole = statementsByRole(fleet.template);
    bucketArn = `<${logicalId(fleet.stack.fleet.bucket)}.Arn>`;
  });
  const of = (role: IConstruct) => byRole.get(logicalId(role)) ?? [];
  const objects = (...keys: string[]) => keys.map((key) => `${bucketArn}/runs/*/${key}`).sort();
  const s3Objects = (statements: Statement[], action: string) =>
    resourcesOf(statements, action).filter((arn) => arn.startsWith(bucketArn)).sort();

  test('THEN no identity or trust policy names an Action with a *, and no resource policy allows one', () => {
    const wildcards = allStatements(fleet.template).filter(
      ({ statement }) => asList(statement.Action).some((action) => action.includes('*')),
    );
    // The only ones: the TLS guards (Deny s3:*, sqs:* without aws:SecureTransport) of bucket and queue policies.
    for (const { where, statement } of wildcards) {
      expect(fleet.template.toJSON().Resources[where].Type).toMatch(/^AWS::(S3::BucketPolicy|SQS::QueuePolicy)$/);
      expect(statement.Effect).toBe('Deny');
      expect(Object.keys(Object.assign({}, ...Object.values(statement.Condition ?? {})))).toEqual([
        expect.stringMatching(/^(aws:SecureTransport|s3:TlsVersion)$/),
      ]);
    }
    for (const statements of byRole.values()) {
      expect(actionsOf(statements).filter((action) => action.includes('*'))).toEqual([]);
    }
  });

  test('THEN the only sts:AssumeRole grant is the worker’s, on the deploy role, inside the Organization', () => {
    const grants = [...byRole.entries()].flatMap(([role, statements]) =>
      statements.filter((s) => asList(s.Action).includes('sts:AssumeRole')).map((statement) => ({ role, statement })),
    );
    expect(grants).toHaveLength(1);
    const [{ role, statement }] = grants;
    expect(role).toBe(logicalId(fleet.stack.fleet.workerRole));
    expect(asList(statement.Action)).toEqual(['sts:AssumeRole']);
    expect(asList(statement.Resource).map(render)).toEqual(['arn:<AWS::Partition>:iam::*:role/stackfleet-deploy']);
    expect(statement.Condition).toEqual({ StringEquals: { 'aws:ResourceOrgID': ORGANIZATION_ID } });
  });

  test('THEN the worker role has the fixed name member accounts trust', () => {
    fleet.template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'stackfleet-worker' });
  });

  /** The role's ListBucket grants, as [resources, condition]. */
  const listings = (statements: Statement[]) =>
    statements.filter((s) => asList(s.Action).includes('s3:ListBucket')).map((s) => [asList(s.Resource).map(render), s.Condition]);

  test('THEN the lister assumes nothing, writes only its own records, and of the records reads only a resumed run’s record and report', () => {
    const lister = of(fleet.stack.fleet.lister.role!);
    const actions = actionsOf(lister);
    expect(actions.filter((action) => action.startsWith('sts:'))).toEqual([]);
    expect(s3Objects(lister, 's3:GetObject')).toEqual(objects('run.json', 'report.json'));
    // The default spec's template object (no input may name another), and the buckets given.
    const templates = ['arn:<AWS::Partition>:s3:::stackfleet-templates-111111111111/federation/template.yaml', 'arn:<AWS::Partition>:s3:::org-templates/*'];
    expect(resourcesOf(lister, 's3:GetObject').filter((arn) => !arn.startsWith(bucketArn))).toEqual(templates);
    expect(resourcesOf(lister, 's3:GetObjectVersion')).toEqual(templates);
    expect(s3Objects(lister, 's3:PutObject')).toEqual(
      objects('spec.json', 'waves/*', 'outcomes/*', 'inherited.json', 'run.json'),
    );
    // On the bucket, without a prefix: so that a resumed run without a record or a report reads as 404, not 403.
    expect(listings(lister)).toEqual([[[bucketArn], undefined]]);
    expect(resourcesOf(lister, 'organizations:ListAccounts')).toEqual(['*']);
    expect(resourcesOf(lister, 'cloudformation:ValidateTemplate')).toEqual(['*']);
  });

  test("THEN the worker reads the spec, the record, outcomes, the stop and started markers and a plan-first run's plan and approval, and writes outcomes, markers and targets' plans only", () => {
    const worker = of(fleet.stack.fleet.workerRole);
    expect(s3Objects(worker, 's3:GetObject')).toEqual(
      objects('spec.json', 'run.json', 'outcomes/*', 'stop.json', 'started/*', 'planned/*', 'plan.json', 'approval.json'),
    );
    expect(s3Objects(worker, 's3:PutObject')).toEqual(objects('outcomes/*', 'failed/*', 'stop.json', 'started/*', 'throttled/*', 'planned/*'));
    // On the bucket, not its objects: so that S3 answers a missing outcome or marker with 404, not 403.
    expect(listings(worker)).toEqual([[[bucketArn], undefined]]);
  });

  test('THEN the worker resolves references only under stackfleet/, in this account and region, and needs no KMS grant for AWS managed keys', () => {
    const worker = of(fleet.stack.fleet.workerRole);
    const here = (service: string, resource: string) => `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${resource}`;
    expect(resourcesOf(worker, 'ssm:GetParameter')).toEqual([here('ssm', 'parameter/stackfleet/*')]);
    expect(resourcesOf(worker, 'secretsmanager:GetSecretValue')).toEqual([here('secretsmanager', 'secret:stackfleet/*')]);
    expect(actionsOf(worker).filter((action) => /^(ssm|secretsmanager|kms):/.test(action)).sort()).toEqual([
      'secretsmanager:GetSecretValue',
      'ssm:GetParameter',
    ]);
    for (const role of [fleet.stack.fleet.lister.role!, fleet.stack.fleet.reducer.role!, fleet.stack.fleet.operatorRole!]) {
      expect(actionsOf(of(role)).filter((action) => /^(ssm|secretsmanager|kms):/.test(action))).toEqual([]);
    }
  });

  test('THEN the reducer (Gate, Reduce, Plan, Approval) reads the run, records lost targets and the halt, and writes the report, the resume input, the plan and an expiry', () => {
    const reducer = of(fleet.stack.fleet.reducer.role!);
    expect(s3Objects(reducer, 's3:GetObject')).toEqual(
      objects('run.json', 'spec.json', 'waves/*', 'outcomes/*', 'stop.json', 'halt.json', 'inherited.json', 'planned/*', 'plan.json', 'approval.json'),
    );
    expect(s3Objects(reducer, 's3:PutObject')).toEqual(
      objects(
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
      ),
    );
    // Without a prefix: a missing stop marker or halt must read as 404, not 403.
    expect(listings(reducer)).toEqual([[[bucketArn], undefined]]);
  });

  test('THEN only the lister and the reducer read alarms, with DescribeAlarms alone, on * (composite alarms need it)', () => {
    const { lister, worker, reducer } = fleet.stack.fleet;
    const cloudwatch = (role: IConstruct) => actionsOf(of(role)).filter((action) => action.startsWith('cloudwatch:'));
    expect(cloudwatch(lister.role!)).toEqual(['cloudwatch:DescribeAlarms']);
    expect(cloudwatch(reducer.role!)).toEqual(['cloudwatch:DescribeAlarms']);
    expect(cloudwatch(worker.role!)).toEqual([]);
    for (const role of [lister.role!, reducer.role!]) {
      const statements = of(role).filter((s) => asList(s.Action).includes('cloudwatch:DescribeAlarms'));
      expect(statements.map((s) => [asList(s.Action), asList(s.Resource), s.Condition])).toEqual([
        [['cloudwatch:DescribeAlarms'], ['*'], undefined],
      ]);
    }
  });

  test('THEN no function may delete, and none touches an object outside runs/', () => {
    for (const fn of [fleet.stack.fleet.lister, fleet.stack.fleet.worker, fleet.stack.fleet.reducer]) {
      const statements = of(fn.role!);
      expect(actionsOf(statements).filter((action) => /Delete/.test(action))).toEqual([]);
      const objectArns = statements
        .flatMap((s) => asList(s.Resource).map(render))
        .filter((arn) => arn.startsWith(`${bucketArn}/`));
      for (const arn of objectArns) expect(arn).toMatch(/\/runs\/\*\//);
    }
  });

  test('THEN the state machine starts and watches its own executions and invokes only the three functions', () => {
    const stateMachine = of(fleet.stack.fleet.stateMachine.role);
    const arn = (resource: string) => `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:${resource}`;
    expect(resourcesOf(stateMachine, 'states:StartExecution')).toEqual([arn('stateMachine:stackfleet')]);
    // Its own executions, and the Distributed Map's child executions (execution:<name>/<label>:<id>).
    const executions = [arn('execution:stackfleet:*'), arn('execution:stackfleet/*')];
    expect(resourcesOf(stateMachine, 'states:DescribeExecution')).toEqual(executions);
    expect(resourcesOf(stateMachine, 'states:StopExecution')).toEqual(executions);
    const functions = [fleet.stack.fleet.lister, fleet.stack.fleet.worker, fleet.stack.fleet.reducer].map(
      (fn) => `<${logicalId(fn)}.Arn>`,
    );
    expect(resourcesOf(stateMachine, 'lambda:InvokeFunction').sort()).toEqual(
      functions.flatMap((fn) => [fn, `${fn}:*`]).sort(),
    );
  });

  test('THEN the operator starts and follows this state machine, reads reports, resume inputs and failure markers, and (no approver role named) approves plans', () => {
    const operator = of(fleet.stack.fleet.operatorRole!);
    const arn = (resource: string) => `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:${resource}`;
    expect(actionsOf(operator)).not.toContain('states:DescribeStateMachine');
    for (const action of ['states:StartExecution', 'states:ListTagsForResource']) {
      expect(resourcesOf(operator, action)).toEqual([arn('stateMachine:stackfleet')]);
    }
    for (const action of ['states:DescribeExecution', 'states:GetExecutionHistory', 'states:ListMapRuns', 'states:StopExecution']) {
      expect(resourcesOf(operator, action)).toEqual([arn('execution:stackfleet:*')]);
    }
    expect(resourcesOf(operator, 'states:DescribeMapRun')).toEqual([arn('mapRun:stackfleet/*')]);
    expect(s3Objects(operator, 's3:GetObject')).toEqual(
      objects('report.json', 'report.md', 'resume-input.json', 'outputs.json', 'plan.json', 'plan.md'),
    );
    expect(s3Objects(operator, 's3:PutObject')).toEqual(objects('approval.json'));
    const list = operator.filter((s) => asList(s.Action).includes('s3:ListBucket'));
    expect(list.map((s) => s.Condition)).toEqual([{ StringLike: { 's3:prefix': ['runs/*/failed/', 'runs/*/failed/*'] } }]);
  });
});

describe('GIVEN a default spec with another deploy role, and another worker role name', () => {
  test('THEN the worker may assume that role, and is named as asked', () => {
    const spec = exampleSpec();
    const { template, stack } = synth({
      defaultSpec: { ...spec, deployRole: { name: 'platform-deployer', externalId: 'x-123' } },
      workerRoleName: 'platform-stackfleet-worker',
    });
    const worker = statementsByRole(template).get(logicalId(stack.fleet.workerRole))!;
    expect(resourcesOf(worker, 'sts:AssumeRole')).toEqual(['arn:<AWS::Partition>:iam::*:role/platform-deployer']);
    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'platform-stackfleet-worker' });
  });
});
