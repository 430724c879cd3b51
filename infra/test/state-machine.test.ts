import * as fs from 'node:fs';
import * as path from 'node:path';
import { logicalId, render, REPO, synth, Synth } from './support';

const ASL_FILE = path.join(REPO, 'statemachine.asl.json');

interface State {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  TimeoutSeconds?: number;
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
  Catch?: { ErrorEquals: string[]; ResultPath?: string | null; Next: string }[];
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number; MaxDelaySeconds?: number }[];
  ItemsPath?: string;
  ToleratedFailurePercentage?: number;
  ItemProcessor?: { ProcessorConfig?: { Mode?: string; ExecutionType?: string }; States: Record<string, State> };
}

/** Every Task of the definition, nested ones included, by state name. */
function tasks(states: Record<string, State>): Map<string, State> {
  const found = new Map<string, State>();
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') found.set(name, state);
    if (state.ItemProcessor) tasks(state.ItemProcessor.States).forEach((task, inner) => found.set(inner, task));
  }
  return found;
}

/** The placeholder a Task's Resource is, e.g. `ReducerFunctionArn`. */
const placeholderOf = (task: State): string => /^\$\{(\w+)\}$/.exec(task.Resource!)![1];

describe('GIVEN statemachine.asl.json and the synthesized state machine', () => {
  const text = fs.readFileSync(ASL_FILE, 'utf8');
  const definition = JSON.parse(text) as { StartAt: string; States: Record<string, State> };
  const states = definition.States;
  let fleet: Synth;
  let substitutions: Record<string, unknown>;
  beforeAll(() => {
    fleet = synth();
    const stateMachine = fleet.template.findResources('AWS::StepFunctions::StateMachine');
    substitutions = Object.values(stateMachine)[0].Properties.DefinitionSubstitutions;
  });

  /** The timeout, in seconds, of the function a placeholder stands for. */
  const timeoutOf = (placeholder: string): number => {
    const functions = { ListerFunctionArn: 'lister', WorkerFunctionArn: 'worker', ReducerFunctionArn: 'reducer' } as const;
    const fn = fleet.stack.fleet[functions[placeholder as keyof typeof functions]];
    return fleet.template.toJSON().Resources[logicalId(fn)].Properties.Timeout as number;
  };

  test('THEN the substitutions fill exactly the ${...} placeholders of the file', () => {
    const placeholders = new Set([...text.matchAll(/\$\{([^}]+)\}/g)].map((match) => match[1]));
    expect(placeholders.size).toBeGreaterThan(0);
    expect(Object.keys(substitutions).sort()).toEqual([...placeholders].sort());
  });

  test('THEN each function ARN placeholder names its own function', () => {
    const { lister, worker, reducer } = fleet.stack.fleet;
    expect(render(substitutions.ListerFunctionArn)).toBe(`<${logicalId(lister)}.Arn>`);
    expect(render(substitutions.WorkerFunctionArn)).toBe(`<${logicalId(worker)}.Arn>`);
    expect(render(substitutions.ReducerFunctionArn)).toBe(`<${logicalId(reducer)}.Arn>`);
  });

  test('THEN the Map runs distributed, Standard child executions: the reason for states:StartExecution', () => {
    const maps = Object.values(states).filter((state) => state.ItemProcessor);
    expect(maps.map((map) => map.ItemProcessor!.ProcessorConfig)).toEqual([{ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }]);
  });

  test('THEN Discover goes to the Gate, which the reducer runs, and which leads to Deploy, Bake, Plan or Reduce', () => {
    expect(definition.StartAt).toBe('Discover');
    expect(placeholderOf(states.Discover)).toBe('ListerFunctionArn');
    expect(states.Discover.Next).toBe('Gate');
    expect(placeholderOf(states.Gate)).toBe('ReducerFunctionArn');
    expect(states.Gate.Parameters).toMatchObject({ action: 'gate' });
    const choice = states[states.Gate.Next!];
    expect(choice.Type).toBe('Choice');
    expect([...choice.Choices!.map((c) => c.Next), choice.Default].sort()).toEqual(['Bake', 'Deploy', 'Plan', 'Reduce']);
    expect(states.Bake).toMatchObject({ Type: 'Wait', Next: 'Gate' });
  });

  test('THEN a plan-first run goes from Plan to Approval, which waits in a loop until it says apply, then to the Gate again', () => {
    expect(placeholderOf(states.Plan)).toBe('ReducerFunctionArn');
    expect(states.Plan).toMatchObject({ Parameters: { action: 'plan', 'run.$': '$.run' }, Next: 'Approval' });
    expect(placeholderOf(states.Approval)).toBe('ReducerFunctionArn');
    expect(states.Approval).toMatchObject({
      Parameters: { action: 'approval', 'run.$': '$.run', 'expiresAtMs.$': '$.expiresAtMs' },
      Next: 'Approved?',
    });
    const approved = states['Approved?'];
    expect(approved.Choices).toEqual([{ Variable: '$.action', StringEquals: 'apply', Next: 'Gate' }]);
    expect(approved.Default).toBe('Await approval');
    expect(states['Await approval']).toMatchObject({ Type: 'Wait', SecondsPath: '$.waitSeconds', Next: 'Approval' });
  });

  test('THEN the Deploy Map takes its items from the Gate, tolerates failed children and catches its own failure into the Gate', () => {
    const deploy = states.Deploy;
    expect(deploy.Type).toBe('Map');
    expect(deploy.ItemsPath).toBe('$.items');
    expect(deploy.ToleratedFailurePercentage).toBe(100);
    expect(deploy.Next).toBe('Gate');
    // The Gate records the targets the Map lost as Failed, with the Map's error.
    expect(deploy.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.mapError', Next: 'Gate' }]);
    const children = tasks(deploy.ItemProcessor!.States);
    expect([...children.keys()].sort()).toEqual(['Poll', 'RecordFailure', 'Start']);
    for (const task of children.values()) expect(placeholderOf(task)).toBe('WorkerFunctionArn');
  });

  test('THEN Reduce, the state the CLI reads the summary from by name (core’s REDUCE_STATE), is the reducer’s, and ends Halted, TargetsFailed or Succeeded', () => {
    const operator = fs.readFileSync(path.join(REPO, 'crates/core/src/operator.rs'), 'utf8');
    const reduceState = /pub const REDUCE_STATE: &str = "([^"]+)";/.exec(operator)![1];
    const reduce = states[reduceState];
    expect(reduce.Type).toBe('Task');
    expect(placeholderOf(reduce)).toBe('ReducerFunctionArn');
    expect(reduce.Parameters).toMatchObject({ action: 'reduce' });
    const ends = new Set<string>();
    const walk = (name: string): void => {
      const state = states[name];
      if (state.Type === 'Choice') [...state.Choices!.map((c) => c.Next), state.Default!].forEach(walk);
      else if (state.Next) walk(state.Next);
      else ends.add(`${name}: ${state.Type}`);
    };
    walk(reduce.Next!);
    expect([...ends].sort()).toEqual(['Failures beyond tolerance: Fail', 'Halted: Fail', 'Rolled out: Succeed']);
    expect(states.Halted).toMatchObject({ Type: 'Fail', Error: 'Halted' });
  });

  test("THEN each function's timeout fires before its Task's", () => {
    const byName = tasks(states);
    // RecordFailure only writes one small object; its 60 s Task timeout is a guard, not a limit.
    // The Gate is the reducer's too: see the known gap below.
    for (const name of ['Discover', 'Start', 'Poll', 'Reduce']) {
      const task = byName.get(name)!;
      expect({ name, timeout: timeoutOf(placeholderOf(task)) <= task.TimeoutSeconds! }).toEqual({ name, timeout: true });
    }
  });

  test("THEN the worker hands a target back well before its timeout, which fires before Start's and Poll's", () => {
    const worker = fs.readFileSync(path.join(REPO, 'crates/lambda/src/worker.rs'), 'utf8');
    const margin = Number(/pub const HAND_BACK_MARGIN: Duration = Duration::from_secs\((\d+)\);/.exec(worker)![1]);
    const timeout = timeoutOf('WorkerFunctionArn');
    // At least as long again as the margin to follow the operation in, per invocation.
    expect({ margin, timeout, follows: timeout >= 2 * margin }).toEqual({ margin: 60, timeout: 150, follows: true });
    const byName = tasks(states);
    for (const name of ['Start', 'Poll']) expect(byName.get(name)!.TimeoutSeconds).toBeGreaterThan(timeout);
  });

  test('THEN every Lambda task retries an invocation that never answered, and a throttled one for longer than a Lambda fault', () => {
    const worker = fs.readFileSync(path.join(REPO, 'crates/lambda/src/worker.rs'), 'utf8');
    const unanswered = JSON.parse(/pub const UNANSWERED: \[&str; \d+\] = (\[[^\]]*\]);/.exec(worker)![1]) as string[];
    expect(unanswered.sort()).toEqual(['Lambda.Unknown', 'Sandbox.Timedout', 'States.Timeout']);
    const byName = tasks(states);
    // The lister and the reducer too: their reserved concurrency (10 by default) is shared by
    // every execution, and a Discover or Reduce that fails unretried leaves no baseline or report.
    expect([...byName.keys()].sort()).toEqual(['Approval', 'Discover', 'Gate', 'Plan', 'Poll', 'RecordFailure', 'Reduce', 'Start']);
    const throttled = (name: string) => byName.get(name)!.Retry!.find((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'));
    for (const [name, task] of byName) {
      const retry = task.Retry!;
      const rule = (error: string) => retry.find((r) => r.ErrorEquals.includes(error));
      for (const error of unanswered) expect({ name, error, retried: rule(error) !== undefined }).toEqual({ name, error, retried: true });
      expect(rule('Lambda.TooManyRequestsException')!.MaxAttempts).toBeGreaterThan(rule('Lambda.ServiceException')!.MaxAttempts!);
      expect({ name, throttled: throttled(name) }).toEqual({ name, throttled: throttled('Start') });
      for (const wildcard of ['States.ALL', 'States.TaskFailed']) expect(rule(wildcard)).toBeUndefined();
    }
    expect(throttled('Start')).toMatchObject({ MaxAttempts: 12, MaxDelaySeconds: 60 });
  });

  test('THEN a retried Poll tells the worker it is one, so that it follows what its first try launched', () => {
    expect(tasks(states).get('Poll')!.Parameters).toMatchObject({ 'retried.$': '$$.State.RetryCount', 'state.$': '$.state' });
  });

  // A Gate records up to 4,000 lost targets of a failed Map run: it may take the reducer's whole
  // timeout, and a States.Timeout there (retried, but never caught) would end the run unreported.
  test("the reducer's timeout fires no later than the Gate's Task's", () => {
    expect(timeoutOf(placeholderOf(states.Gate))).toBeLessThanOrEqual(states.Gate.TimeoutSeconds!);
  });
});
