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
