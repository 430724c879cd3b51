/**
 * Reserved concurrency of the three functions. The worker's is the most targets the state
 * machine deploys at once: each Deploy Map child runs one worker invocation at a time, so a run
 * whose concurrency (the Map's MaxConcurrencyPath) passes it would be throttled, and the lister
 * refuses such a run at Discover (it reads the number from STACKFLEET_WORKER_CONCURRENCY).
 * Reserving also keeps a rollout from taking the concurrency of the account's other functions,
 * and theirs from starving the rollout.
 */

/** A rollout document's concurrency when it says none: core's DEFAULT_CONCURRENCY (a jest test holds the two together). */
export const DEFAULT_ROLLOUT_CONCURRENCY = 50;

/** Each function's reserved concurrency; what is not given takes its default. */
export interface ReservedConcurrency {
  /** @default the default spec's concurrency, or 100, whichever is larger */
  readonly worker?: number;
  /** One invocation per execution, at Discover. @default 10 */
  readonly lister?: number;
  /** One invocation at a time per execution, at each Gate and at Reduce. @default 10 */
  readonly reducer?: number;
}

export type Reserved = Required<ReservedConcurrency>;

/** A Distributed Map runs at most 10,000 children at once: a larger reservation would serve nothing. */
export const MAX_RESERVED_CONCURRENCY = 10_000;
export const DEFAULT_WORKER_CONCURRENCY = 100;
export const DEFAULT_LISTER_CONCURRENCY = 10;
export const DEFAULT_REDUCER_CONCURRENCY = 10;

/**
 * The reservations to make, defaults filled in, or `undefined` for none (`false`). Throws, naming
 * the setting and what to do, on a number that is not a whole number from 1, and on a worker
 * reservation below the default spec's own concurrency (every execution that kept the default
 * would be refused).
 */
export function reservedConcurrency(
  setting: ReservedConcurrency | false | undefined,
  defaultSpec: Record<string, unknown>,
): Reserved | undefined {
  if (setting === false) return undefined;
  const given = setting ?? {};
  const specConcurrency = typeof defaultSpec.concurrency === 'number' ? defaultSpec.concurrency : DEFAULT_ROLLOUT_CONCURRENCY;
  const reserved: Reserved = {
    worker: given.worker ?? Math.max(DEFAULT_WORKER_CONCURRENCY, specConcurrency),
    lister: given.lister ?? DEFAULT_LISTER_CONCURRENCY,
    reducer: given.reducer ?? DEFAULT_REDUCER_CONCURRENCY,
  };
  for (const [name, value] of Object.entries(reserved)) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_RESERVED_CONCURRENCY) {
      throw new Error(
        `reservedConcurrency.${name} (-c ${name}Concurrency) must be a whole number from 1 to 10000, not ${String(value)}; ` +
          'to reserve nothing, set reservedConcurrency to false (-c reserveConcurrency=false)',
      );
    }
  }
  if (reserved.worker < specConcurrency) {
    throw new Error(
      `reservedConcurrency.worker (-c workerConcurrency) is ${reserved.worker}, below the default spec's concurrency of ` +
        `${specConcurrency}${typeof defaultSpec.concurrency === 'number' ? '' : ' (its default)'}: the lister would refuse ` +
        `every execution that keeps it. Reserve at least ${specConcurrency}, or lower the default spec's concurrency`,
    );
  }
  return reserved;
}
