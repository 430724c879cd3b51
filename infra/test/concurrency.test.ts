import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_ROLLOUT_CONCURRENCY } from '../lib/concurrency';
import { exampleSpec, logicalId, REPO, synth, Synth } from './support';

type Fn = 'lister' | 'worker' | 'reducer';
const FUNCTIONS: Fn[] = ['lister', 'worker', 'reducer'];

const properties = (fleet: Synth, name: Fn) => fleet.template.toJSON().Resources[logicalId(fleet.stack.fleet[name])].Properties;
/** Each function's ReservedConcurrentExecutions, and what the lister is told the worker's is. */
function reservations(fleet: Synth) {
  return {
    reserved: Object.fromEntries(FUNCTIONS.map((name) => [name, properties(fleet, name).ReservedConcurrentExecutions])),
    listerKnows: properties(fleet, 'lister').Environment.Variables.STACKFLEET_WORKER_CONCURRENCY,
  };
}

describe('GIVEN the three functions and their reserved concurrency', () => {
  test('WHEN nothing is given THEN the worker reserves 100 (above the example spec’s 50), lister and reducer 10 each, and the lister knows the worker’s', () => {
    expect(exampleSpec().concurrency).toBe(50);
    expect(reservations(synth())).toEqual({ reserved: { lister: 10, worker: 100, reducer: 10 }, listerKnows: '100' });
  });

  test('WHEN the default spec’s concurrency is above 100 THEN the worker reserves that much by default', () => {
    const fleet = synth({ defaultSpec: { ...exampleSpec(), concurrency: 300 } });
    expect(reservations(fleet)).toEqual({ reserved: { lister: 10, worker: 300, reducer: 10 }, listerKnows: '300' });
  });

  test('WHEN each is given THEN each is reserved, and the lister is told the worker’s', () => {
    const fleet = synth({ reservedConcurrency: { worker: 500, lister: 3, reducer: 4 } });
    expect(reservations(fleet)).toEqual({ reserved: { lister: 3, worker: 500, reducer: 4 }, listerKnows: '500' });
  });

  test('WHEN reservedConcurrency is false THEN nothing is reserved and the lister holds no run to a number', () => {
    const fleet = synth({ reservedConcurrency: false });
    expect(reservations(fleet)).toEqual({ reserved: { lister: undefined, worker: undefined, reducer: undefined }, listerKnows: undefined });
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    [
      'a worker reservation below the default spec’s concurrency',
      { reservedConcurrency: { worker: 40 } },
      /^reservedConcurrency\.worker \(-c workerConcurrency\) is 40, below the default spec's concurrency of 50: the lister would refuse every execution that keeps it\. Reserve at least 50, or lower the default spec's concurrency$/,
    ],
    [
      'one below the rollout document’s default, the spec saying none',
      { reservedConcurrency: { worker: 20 }, defaultSpec: { ...exampleSpec(), concurrency: undefined } },
      /is 20, below the default spec's concurrency of 50 \(its default\)/,
    ],
    ['a reservation of zero', { reservedConcurrency: { lister: 0 } }, /^reservedConcurrency\.lister \(-c listerConcurrency\) must be a whole number from 1 to 10000, not 0; to reserve nothing, set reservedConcurrency to false/],
    ['one past what a Map can run', { reservedConcurrency: { worker: 10_001 } }, /^reservedConcurrency\.worker .* from 1 to 10000, not 10001/],
    ['a fraction', { reservedConcurrency: { reducer: 2.5 } }, /^reservedConcurrency\.reducer .* not 2\.5/],
    ['a context value that is not a number', { reservedConcurrency: { worker: Number('lots') } }, /^reservedConcurrency\.worker .* not NaN/],
  ])('WHEN %s THEN synth refuses it, saying what to do', (_, props, message) => {
    expect(() => synth(props)).toThrow(message);
  });

  test('THEN the default a rollout document takes for concurrency is core’s', () => {
    const document = fs.readFileSync(path.join(REPO, 'crates/core/src/document.rs'), 'utf8');
    expect(Number(/pub const DEFAULT_CONCURRENCY: u32 = (\d+);/.exec(document)![1])).toBe(DEFAULT_ROLLOUT_CONCURRENCY);
  });

  test('THEN the Deploy Map runs as many children as the run’s concurrency, which the lister held to the worker’s reserve', () => {
    const definition = JSON.parse(fs.readFileSync(path.join(REPO, 'statemachine.asl.json'), 'utf8'));
    // The Gate passes the run record's concurrency, which Discover checked; no fixed MaxConcurrency overrides it.
    expect(definition.States.Deploy.MaxConcurrencyPath).toBe('$.concurrency');
    expect(definition.States.Deploy.MaxConcurrency).toBeUndefined();
    // The variable the lister reads (crates/lambda/tests/concurrency.rs shows the refusal).
    const runtime = fs.readFileSync(path.join(REPO, 'crates/lambda/src/runtime.rs'), 'utf8');
    expect(runtime).toContain('std::env::var("STACKFLEET_WORKER_CONCURRENCY")');
  });
});
