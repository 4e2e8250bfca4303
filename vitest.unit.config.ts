import { configDefaults, defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config.ts";

// The unit loop (`pnpm test:unit`): every package's tests that need no server, no other process and no
// large data. Integration tests — against s3rver, azurite, sshd and ferry's GCS and GitHub servers, the
// `ferry` command in a child process, a real terminal, kill -9 — live in `test/integration/` folders and
// `tests/integration/`; `./dev test` runs both. Workers are reused across files (no isolation): the unit
// tests hold no state between files (checked with shuffled file orders), and it halves the loop's time.
export default mergeConfig(
  base,
  defineConfig({ test: { exclude: [...configDefaults.exclude, "**/integration/**"], isolate: false } }),
);
