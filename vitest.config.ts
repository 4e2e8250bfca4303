import { defineConfig } from "vitest/config";

// One run over the whole workspace, against source: the `@ferry/source` export condition
// points every workspace package at its src/index.ts, so no build is needed to test.
export default defineConfig({
  resolve: { conditions: ["@ferry/source"] },
  ssr: { resolve: { conditions: ["@ferry/source"], externalConditions: ["@ferry/source"] } },
  test: {
    include: [
      "packages/*/test/**/*.test.ts",
      "plugins/*/*/test/**/*.test.ts",
      "test-harness/test/**/*.test.ts",
      "examples/test/**/*.test.ts",
      "tests/**/*.test.ts",
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    reporters: process.env.CI ? ["default"] : ["default"],
  },
});
