import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localStorage } from "@ferry/core";
import { describeStorage } from "../src/index.ts";

// The embedded local storage must pass every case: no capability overrides, no skips.
describeStorage(
  "local",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-conformance-"));
    return { storage: localStorage(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
  { partSize: 8 * 1024 },
);
