/**
 * Model-based sync test: for every storage system, against its real backend, a seeded random series
 * of edits to a local tree, each followed by `cp` or `sync --delete`; after every step the destination
 * must hold exactly the model's files, byte for byte. A longer sweep over many seeds is
 * `node bench/model-sync.ts --seeds 100`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeFailure, runModel } from "./run-model.ts";
import { type Destination, SYSTEMS } from "./systems.ts";

const SEEDS = [1, 2];
const STEPS = 8;

for (const system of SYSTEMS) {
  describe.skipIf(system.skip !== undefined)(`model-based sync: ${system.name}`, () => {
    let backend: Awaited<ReturnType<typeof system.start>>;
    beforeAll(async () => {
      backend = await system.start();
    });
    afterAll(() => backend?.stop());

    for (const seed of SEEDS) {
      it(`seed ${seed}: the destination equals the model after every step`, async () => {
        const destination: Destination = await backend.fresh();
        const failure = await runModel(destination, { seed, steps: STEPS, cliShare: 0.25 });
        expect(failure && describeFailure(system.name, failure)).toBeUndefined();
      });
    }
  });
}
