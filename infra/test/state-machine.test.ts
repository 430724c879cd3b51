import * as fs from 'node:fs';
import * as path from 'node:path';
import { logicalId, render, REPO, synth, Synth } from './support';

const ASL_FILE = path.join(REPO, 'statemachine.asl.json');

interface State {
  Type: string;
  Resource?: string;
  TimeoutSeconds?: number;
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

describe('GIVEN statemachine.asl.json and the synthesized state machine', () => {
  const text = fs.readFileSync(ASL_FILE, 'utf8');
  const definition = JSON.parse(text) as { States: Record<string, State> };
  let fleet: Synth;
  let substitutions: Record<string, unknown>;
  beforeAll(() => {
    fleet = synth();
    const stateMachine = fleet.template.findResources('AWS::StepFunctions::StateMachine');
    substitutions = Object.values(stateMachine)[0].Properties.DefinitionSubstitutions;
  });

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
    const maps = Object.values(definition.States).filter((state) => state.ItemProcessor);
    expect(maps.map((map) => map.ItemProcessor!.ProcessorConfig)).toEqual([{ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }]);
  });

  test("THEN each function's timeout fires before its Task's", () => {
    const timeoutOf = (placeholder: string) => {
      const functions = { ListerFunctionArn: 'lister', WorkerFunctionArn: 'worker', ReducerFunctionArn: 'reducer' } as const;
      const fn = fleet.stack.fleet[functions[placeholder as keyof typeof functions]];
      return fleet.template.toJSON().Resources[logicalId(fn)].Properties.Timeout as number;
    };
    const byName = tasks(definition.States);
    // RecordFailure only writes one small object; its 60 s Task timeout is a guard, not a limit.
    for (const name of ['Discover', 'Start', 'Poll', 'Reduce']) {
      const task = byName.get(name)!;
      const placeholder = /^\$\{(\w+)\}$/.exec(task.Resource!)![1];
      expect(timeoutOf(placeholder)).toBeLessThanOrEqual(task.TimeoutSeconds!);
    }
  });
});
