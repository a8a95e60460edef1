import { type RateBudget, RatePacer, type RatePacerOptions } from './rate-pacer.js';

/**
 * The pacers of one process, lent out one per batch so a worker's budget outlives each batch's
 * client. A Lambda container runs one batch at a time and keeps one pacer; the local runner runs
 * the Map's batches side by side in one process and keeps one per batch in flight, each holding
 * its share, as the containers would.
 */
export class RatePacerPool {
  readonly #options: RatePacerOptions;
  readonly #free = new Map<string, RatePacer[]>();

  constructor(options: RatePacerOptions) {
    this.#options = options;
  }

  get workers(): number {
    return this.#options.workers;
  }

  async lease<T>(budget: RateBudget, work: (pacer: RatePacer) => Promise<T>): Promise<T> {
    const key = `${budget.tokensPerMinute}/${budget.requestsPerMinute}`;
    const free = this.#free.get(key) ?? [];
    this.#free.set(key, free);
    const pacer = free.pop() ?? new RatePacer(budget, this.#options);
    try {
      return await work(pacer);
    } finally {
      free.push(pacer);
    }
  }
}
