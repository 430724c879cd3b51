import * as path from 'node:path';
import { RUN_KEYS } from '../lib/permissions';
import { readJson, REPO } from './support';

/** The run store's layout as the Rust side writes it (crates/core/src/run_keys.rs, by a Rust test). */
interface RunKeysFixture {
  readonly run: string;
  readonly keys: Record<string, string>;
}

type Grant = keyof typeof RUN_KEYS;

/**
 * Who must write and who must read each record, as the data flow goes.
 * Discover writes the spec, one target list per wave, the skipped targets' outcomes or a resume's
 * inherited successes, and last the record; a resume reads the resumed run's record and report.
 * The worker reads the spec, the record (a wave's budget), the stop marker, its target's started
 * marker and outcome; it writes the outcome, a failure marker, the started marker and the stop
 * marker. The reducer (Gate and Reduce) reads the record, the spec, the waves, the outcomes, the
 * stop marker, the halt and the inherited successes; it writes lost targets' outcomes and failure
 * markers, the halt, the reports and the resume input, which the operator reads (report.md is
 * opened from the console). Failure markers are only listed (`status` and the budgets count
 * them), never read.
 */
const DATA_FLOW: Record<string, readonly Grant[]> = {
  record: ['listerGet', 'listerPut', 'reducerGet', 'workerGet'],
  spec: ['listerPut', 'reducerGet', 'workerGet'],
  wave: ['listerPut', 'reducerGet'],
  outcome: ['listerPut', 'reducerGet', 'reducerPut', 'workerGet', 'workerPut'],
  failedMarker: ['reducerPut', 'workerPut'],
  throttledMarker: ['workerPut'],
  startedMarker: ['workerGet', 'workerPut'],
  stop: ['reducerGet', 'workerGet', 'workerPut'],
  halt: ['reducerGet', 'reducerPut'],
  inherited: ['listerPut', 'reducerGet'],
  resumeInput: ['operatorGet', 'reducerPut'],
  reportJson: ['listerGet', 'operatorGet', 'reducerPut'],
  reportMd: ['operatorGet', 'reducerPut'],
  outputsJson: ['operatorGet', 'reducerPut'],
  plannedTarget: ['reducerGet', 'reducerPut', 'workerGet', 'workerPut'],
  planJson: ['approverGet', 'reducerGet', 'reducerPut', 'workerGet'],
  planMd: ['approverGet', 'reducerPut'],
  approval: ['approverPut', 'reducerGet', 'reducerPut', 'workerGet'],
};

/** Markers only ever listed (their names are their content): nobody reads the object. */
const LISTED_ONLY = ['failedMarker', 'throttledMarker'];

/** An IAM resource pattern: `*` matches any run of characters, `/` included. */
const matches = (pattern: string, key: string): boolean =>
  new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(key);

describe('GIVEN the run keys the Rust side lays out (tests/fixtures/run-keys.json)', () => {
  const fixture = readJson<RunKeysFixture>(path.join(REPO, 'tests/fixtures/run-keys.json'));
  const prefix = `runs/${fixture.run}/`;
  const keys = Object.entries(fixture.keys).map(([name, key]) => ({ name, key, relative: key.slice(prefix.length) }));
  const grantsOf = (relative: string): Grant[] =>
    (Object.keys(RUN_KEYS) as Grant[]).filter((grant) => RUN_KEYS[grant].some((pattern) => matches(pattern, relative))).sort();

  test('THEN every key lies under runs/<run>/, where the grants point', () => {
    for (const { key } of keys) expect(key.startsWith(prefix)).toBe(true);
  });

  test('THEN every key pattern granted to a role names a key the Rust side writes', () => {
    const unmatched = Object.entries(RUN_KEYS).flatMap(([grant, patterns]) =>
      patterns.filter((pattern) => !keys.some(({ relative }) => matches(pattern, relative))).map((pattern) => `${grant}: ${pattern}`),
    );
    expect(unmatched).toEqual([]);
  });

  test('THEN each key is written and read by exactly the roles the data flow needs', () => {
    const granted = Object.fromEntries(keys.map(({ name, relative }) => [name, grantsOf(relative)]));
    expect(granted).toEqual(DATA_FLOW);
  });

  test('THEN every key has a writer, and every key but the listed-only markers (failures, throttles) a reader', () => {
    for (const { name, relative } of keys) {
      const grants = grantsOf(relative);
      expect({ name, written: grants.some((grant) => grant.endsWith('Put')) }).toEqual({ name, written: true });
      if (!LISTED_ONLY.includes(name)) expect({ name, read: grants.some((grant) => grant.endsWith('Get')) }).toEqual({ name, read: true });
    }
  });
});
