// Runs the shipped statemachine.asl.json in aws-local-stepfunctions, its placeholders filled as
// the CDK app fills them, its Lambda tasks reaching the real binaries served by `cargo lambda
// watch`. Nothing here reshapes the definition.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

// aws-local-stepfunctions 3 needs Promise.withResolvers (Node 22); Node 20 lacks it.
if (!Promise.withResolvers) {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const { StateMachine } = await import('aws-local-stepfunctions');

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The ARNs the CDK app substitutes; each names the function cargo lambda watch serves. */
export const SUBSTITUTIONS = {
  ListerFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:lister',
  WorkerFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:worker',
  ReducerFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:reducer',
};

export function definition() {
  const text = readFileSync(join(ROOT, 'statemachine.asl.json'), 'utf8');
  const filled = text.replace(/\$\{(\w+)\}/g, (whole, name) => {
    if (!(name in SUBSTITUTIONS)) throw new Error(`no substitution for ${whole}`);
    return SUBSTITUTIONS[name];
  });
  return JSON.parse(filled);
}

export function fixture(name) {
  return JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', name), 'utf8'));
}

/** A rollout document of examples/ (YAML), as the state machine would get it in JSON. */
export function example(path) {
  return parseYaml(readFileSync(join(ROOT, 'examples', path), 'utf8'));
}

/** Every Task state, nested ones included, with its Resource. */
function tasks(states, found = {}) {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') found[name] = state.Resource;
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested) tasks(nested.States, found);
  }
  return found;
}

/** {state: field} for each Task that passes `$$.State.RetryCount` to its function as `field`. */
function retryCountFields(states, found = {}) {
  for (const [name, state] of Object.entries(states)) {
    for (const [key, value] of Object.entries(state.Parameters ?? {})) {
      if (state.Type === 'Task' && value === '$$.State.RetryCount') found[name] = key.replace(/\.\$$/, '');
    }
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested) retryCountFields(nested.States, found);
  }
  return found;
}

/**
 * `cargo lambda watch` routes by the bare function name and refuses the full ARN the
 * interpreter's own Lambda client sends, so each Task state is bridged here: its input is POSTed
 * to the function its Resource names, and a function error (AWS: 200 with X-Amz-Function-Error;
 * cargo lambda watch: 500; both with {errorType, errorMessage}) becomes an Error named by its
 * errorType, which Retry and Catch match as in AWS.
 *
 * `faults[state](input)` may name an error for a call: the call then fails with it without
 * reaching the function, as Lambda itself fails an invocation (a crash, a timeout: Lambda.Unknown,
 * Sandbox.Timedout). Or `{ error, afterCall: true }`: the function runs, and its answer is lost
 * to that error, as when an invocation times out after its work (or its Task does:
 * States.Timeout). `onCall(call)` sees each call as it returns, before the state machine goes on.
 *
 * aws-local-stepfunctions 3.0.0 has no `$$.State` in its Context object: `execute` gives every
 * state a RetryCount of 0, and the count is made here as Step Functions makes it, for the Tasks
 * that pass it on: the tries of the state before this one with the same input (a Retry sends its
 * input again; two entries of one state never get the same input here: a Poll's state counts
 * its AWS calls).
 */
export function localHandlers(lambdaEndpoint, calls, { faults = {}, onCall = () => {} } = {}) {
  const handlers = {};
  const definitionStates = definition().States;
  const retryCounts = retryCountFields(definitionStates);
  const tries = new Map();
  for (const [state, resource] of Object.entries(tasks(definitionStates))) {
    const functionName = resource.split(':').pop();
    handlers[state] = async (given) => {
      let input = given;
      const field = retryCounts[state];
      if (field) {
        const key = `${state}\n${JSON.stringify(given)}`;
        const tried = tries.get(key) ?? 0;
        tries.set(key, tried + 1);
        input = { ...given, [field]: tried };
      }
      const asked = faults[state]?.(input);
      const fault = typeof asked === 'string' ? { error: asked, afterCall: false } : asked;
      const injected = async (call) => {
        calls.push({ ...call, error: fault.error, injected: true });
        await onCall(calls.at(-1));
        const error = new Error(`injected by the test: ${fault.error}`);
        error.name = fault.error;
        throw error;
      };
      if (fault && !fault.afterCall) await injected({ state, input, ms: 0 });
      const began = performance.now();
      const response = await fetch(`${lambdaEndpoint}/2015-03-31/functions/${functionName}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input),
      });
      const text = await response.text();
      const body = text ? JSON.parse(text) : null;
      const ms = performance.now() - began;
      if (!response.ok || response.headers.get('x-amz-function-error')) {
        const error = new Error(body?.errorMessage ?? text);
        error.name = body?.errorType ?? 'Lambda.Unknown';
        calls.push({ state, input, error: error.name, ms });
        await onCall(calls.at(-1));
        throw error;
      }
      if (fault?.afterCall) await injected({ state, input, lost: body, ms });
      calls.push({ state, input, output: body, ms });
      await onCall(calls.at(-1));
      return body;
    };
  }
  return handlers;
}

/**
 * Runs one execution; resolves to {status, output, error, cause, calls}. `retryWaits` shortens
 * Retry's waits (milliseconds by state name) without changing which errors are retried; `waits`
 * sets Wait states' durations (milliseconds by state name, the Map's child states included);
 * `faults` and `onCall` as in localHandlers.
 */
export async function execute(input, name, lambdaEndpoint, retryWaits = {}, { waits = {}, faults, onCall } = {}) {
  const machine = new StateMachine(definition(), { validationOptions: { checkArn: true, checkPaths: true } });
  const calls = [];
  const events = [];
  const execution = machine.run(input, {
    overrides: {
      taskResourceLocalHandlers: localHandlers(lambdaEndpoint, calls, { faults, onCall }),
      retryIntervalOverrides: retryWaits,
      waitTimeOverrides: waits,
    },
    // RetryCount: see localHandlers.
    context: { Execution: { Name: name }, State: { RetryCount: 0 } },
  });
  const logged = (async () => {
    for await (const event of execution.eventLogs) events.push(event);
  })();
  try {
    const output = await execution.result;
    await logged;
    return { status: 'SUCCEEDED', output, calls, events };
  } catch (failure) {
    await logged.catch(() => {});
    const cause = failure.cause?.message ?? failure.message;
    return { status: 'FAILED', error: failure.cause?.name ?? failure.name, cause, calls, events };
  }
}

/** The demo's Organization script (moto), run with the test's Python. */
export function org(...args) {
  return execFileSync(process.env.STACKFLEET_PYTHON, [join(ROOT, 'scripts', 'demo_org.py'), process.env.STACKFLEET_MOTO, ...args], {
    encoding: 'utf8',
  }).trim();
}

/**
 * The run Discover named for an execution (its records are under `runs/<run>/`): the execution's
 * name and the second it started, `<name>-YYYYMMDDTHHMMSSZ`.
 */
export function runOf(result) {
  const discover = result.calls.find((c) => c.state === 'Discover' && c.output);
  if (!discover) throw new Error(`Discover did not answer: ${JSON.stringify(result.calls.map((c) => c.state))}`);
  return discover.output.run;
}

/** The keys of the run bucket under any run of the execution named `name`. */
export function recordsOf(name) {
  const run = new RegExp(`^runs/${name}-\\d{8}T\\d{6}Z/`);
  return Object.keys(JSON.parse(org('objects', 'stackfleet-runs'))).filter((key) => run.test(key));
}

/** The JSON object at `key` of the run bucket (moto's S3), as the Lambdas wrote it. */
export function runObject(key) {
  return JSON.parse(org('get', 'stackfleet-runs', key));
}

/** {account: stack status} for the accounts of the e2e Organization (of `ou`) that have `stack`. */
export function stacksIn(stack, ou) {
  return JSON.parse(org('stacks', process.env.STACKFLEET_E2E_STATE, stack, ...(ou ? ['--ou', ou] : [])));
}

/** The federation example's template, in the versioned bucket scripts/statemachine-test fills. */
export const FEDERATION = { url: 'https://stackfleet-templates.s3.us-east-1.amazonaws.com/federation/template.yaml' };

/**
 * Uploads a template body as a new version of `key` in that bucket (the state machine deploys
 * templates from S3 only); returns the document's `template` field and the version written.
 */
export function uploaded(key, body) {
  const file = join(mkdtempSync(join(tmpdir(), 'stackfleet-template-')), 'template.yaml');
  writeFileSync(file, body);
  const { url, versionId } = JSON.parse(org('template', 'stackfleet-templates', key, file));
  return { template: { url }, versionId };
}
