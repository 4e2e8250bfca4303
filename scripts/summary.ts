/** Prints vitest's JSON result as one closing line that any CI can read: "Tests: N passed, N failed, N skipped". */
import { existsSync, readFileSync } from "node:fs";

const [file = ".tools/vitest-results.json", statusText = "0"] = process.argv.slice(2);
const status = Number(statusText);
if (!existsSync(file)) {
  console.log(`Tests: 0 passed, 1 failed (vitest exited with ${status} before writing results)`);
  process.exit(status === 0 ? 1 : status);
}
const result = JSON.parse(readFileSync(file, "utf8")) as {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
};
const skipped = result.numPendingTests + result.numTodoTests;
// A file that fails to load has no failed tests but is a failure all the same.
const failed =
  result.numFailedTests +
  (result.numFailedTests === 0 && status !== 0 ? Math.max(1, result.numFailedTestSuites) : 0);
console.log(`Tests: ${result.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status);
