import { test } from 'node:test';
import assert from 'node:assert/strict';
import aslValidator from 'asl-validator';
import { StateMachine } from 'aws-local-stepfunctions';
import { definition } from './harness.mjs';

test('asl-validator accepts the shipped definition, placeholders filled as the CDK app fills them', () => {
  const { isValid, errorsText } = aslValidator(definition());
  assert.ok(isValid, errorsText());
});

test('the interpreter accepts it with ARN and path checks on', () => {
  assert.doesNotThrow(() => new StateMachine(definition(), { validationOptions: { checkArn: true, checkPaths: true } }));
});

test('Discover names the run after the execution and the time it started: a name used again is another run', () => {
  const discover = definition().States.Discover;
  assert.equal(discover.Parameters['execution.$'], '$$.Execution.Name');
  assert.equal(discover.Parameters['startTime.$'], '$$.Execution.StartTime');
});

test('the Map is Distributed, with Standard child executions and concurrency from the input', () => {
  const deploy = definition().States.Deploy;
  assert.equal(deploy.Type, 'Map');
  assert.deepEqual(deploy.ItemProcessor.ProcessorConfig, { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
  assert.equal(deploy.MaxConcurrencyPath, '$.concurrency');
  assert.equal(deploy.ResultPath, null, 'outcomes go to S3; the Map result never grows with the targets');
});

test('a retried Poll tells the worker it is one: the retry count goes with its input', () => {
  const poll = definition().States.Deploy.ItemProcessor.States.Poll;
  assert.equal(poll.Parameters['retried.$'], '$$.State.RetryCount');
  assert.equal(poll.Parameters['state.$'], '$.state', 'the state the first try was given');
});

test('every Lambda task retries a throttled, timed-out or crashed invocation, the lister and the reducer as the worker', () => {
  const states = definition().States;
  const inner = states.Deploy.ItemProcessor.States;
  const rule = (state, error) => state.Retry.find((r) => r.ErrorEquals.includes(error));
  for (const [name, state] of Object.entries({ ...states, ...inner }).filter(([, s]) => s.Type === 'Task')) {
    assert.deepEqual(rule(state, 'Lambda.TooManyRequestsException'), rule(inner.Start, 'Lambda.TooManyRequestsException'), name);
    for (const error of ['Lambda.Unknown', 'Sandbox.Timedout', 'States.Timeout']) assert.ok(rule(state, error), `${name} retries ${error}`);
  }
});
