// Secrets through the state machine: parameters given as references to an SSM SecureString and a
// Secrets Manager secret in the caller's account (moto's) reach the stacks resolved by the worker,
// and the canaries appear in no artefact of the run: the execution's history (every state's input
// and output), the run bucket, the reports, the Lambdas' logs. A NoEcho value in plaintext is
// refused at Discover. The template comes by URL from a versioned bucket, as pinned templates do.
// Needs STACKFLEET_MOTO, STACKFLEET_LAMBDA, STACKFLEET_LAMBDA_LOG, STACKFLEET_PYTHON,
// STACKFLEET_E2E_STATE: scripts/statemachine-test sets them up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execute, org, recordsOf, runOf } from './harness.mjs';

const lambda = process.env.STACKFLEET_LAMBDA;
const state = JSON.parse(readFileSync(process.env.STACKFLEET_E2E_STATE, 'utf8'));
const run = randomUUID().slice(0, 8);
const SSM_CANARY = `canary-ssm-${randomUUID()}`;
const SECRET_CANARY = `canary-sm-${randomUUID()}`;
const PLAIN_CANARY = `canary-plain-${randomUUID()}`;

const TEMPLATE = `AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  DbPassword:
    Type: String
    NoEcho: true
  ApiToken:
    Type: String
    NoEcho: true
  Env:
    Type: String
Resources:
  Marker:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /secrets-canary/marker
      Type: String
      Value: !Join ['-', [!Ref Env, !Ref DbPassword, !Ref ApiToken]]
`;

/** The template in a versioned bucket of moto's S3, by its https URL. */
function templateUrl() {
  const file = join(mkdtempSync(join(tmpdir(), 'stackfleet-secrets-')), 'template.yaml');
  writeFileSync(file, TEMPLATE);
  return JSON.parse(org('template', 'stackfleet-templates', `secrets-canary/${run}.yaml`, file)).url;
}

const members = state.accounts.filter((a) => a.ou === 'Dev').slice(0, 2).map((a) => a.id);

function input(url, parameters) {
  return {
    stackName: `secrets-canary-${run}`,
    template: { url },
    parameters: { Env: 'prod', ...parameters },
    targets: { list: members.map((account) => `${account}:us-east-1`) },
    failureTolerance: 0,
    concurrency: 2,
  };
}

/** Where each canary was found: nowhere, if all goes well. */
function found(text, canaries) {
  return canaries.filter((canary) => text.includes(canary));
}

test('referenced secrets reach the stacks and no artefact of the run', async (t) => {
  org('secret', 'ssm', `/stackfleet/canary-${run}`, SSM_CANARY);
  org('secret', 'secretsmanager', `stackfleet/canary-${run}`, JSON.stringify({ token: SECRET_CANARY, user: 'deploy' }));
  const url = templateUrl();
  const execution = `secrets-${run}`;
  const referenced = await execute(
    input(url, {
      DbPassword: `{{resolve:ssm-secure:/stackfleet/canary-${run}}}`,
      ApiToken: `{{resolve:secretsmanager:stackfleet/canary-${run}:SecretString:token}}`,
    }),
    execution,
    lambda,
  );
  const canaries = [SSM_CANARY, SECRET_CANARY];

  await t.test('the execution succeeds and every target got the resolved values', () => {
    assert.equal(referenced.status, 'SUCCEEDED', JSON.stringify(referenced));
    const stacks = JSON.parse(org('parameters', process.env.STACKFLEET_E2E_STATE, `secrets-canary-${run}`));
    assert.deepEqual(Object.keys(stacks).sort(), [...members].sort());
    // moto's DescribeStacks shows even NoEcho values (CloudFormation shows ****).
    for (const parameters of Object.values(stacks)) {
      assert.equal(parameters.DbPassword, SSM_CANARY);
      assert.equal(parameters.ApiToken, SECRET_CANARY);
    }
  });
  await t.test("the execution's history holds the references, never the values", () => {
    const history = JSON.stringify({ events: referenced.events, calls: referenced.calls, output: referenced.output });
    assert.ok(history.includes(`{{resolve:ssm-secure:/stackfleet/canary-${run}}}`), 'the input is in the history');
    assert.deepEqual(found(history, canaries), []);
  });
  await t.test('no object of the run bucket (records, reports, re-run inputs) holds them', () => {
    const objects = JSON.parse(org('objects', 'stackfleet-runs'));
    const records = `runs/${runOf(referenced)}/`;
    const ours = Object.keys(objects).filter((key) => key.startsWith(records));
    assert.ok(ours.some((key) => key.startsWith(`${records}report.json`)), JSON.stringify(ours));
    assert.ok(ours.some((key) => key.startsWith(`${records}report.md`)), JSON.stringify(ours));
    assert.deepEqual(found(JSON.stringify(objects), canaries), []);
  });
  await t.test("the Lambdas' logs do not either", () => {
    const logs = readFileSync(process.env.STACKFLEET_LAMBDA_LOG, 'utf8');
    assert.ok(logs.includes(execution), 'the run is in the logs');
    assert.deepEqual(found(logs, canaries), []);
  });
});

test('a NoEcho value in plaintext is refused at Discover, by name, before anything is written', async () => {
  const execution = `secrets-plain-${run}`;
  const refused = await execute(input(templateUrl(), { DbPassword: PLAIN_CANARY, ApiToken: '' }), execution, lambda);
  assert.equal(refused.status, 'FAILED');
  assert.equal(refused.error, 'InvalidInput');
  assert.match(refused.cause, /parameter DbPassword is NoEcho in the template and given in plaintext/);
  assert.ok(!refused.cause.includes(PLAIN_CANARY), refused.cause);
  assert.deepEqual(refused.calls.map((c) => c.state), ['Discover']);
  assert.deepEqual(recordsOf(execution), []);
});
