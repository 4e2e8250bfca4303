/**
 * A user's script for polars-thread.test.ts: writes a danfo frame big enough for the polars worker and
 * ends without closing anything. Prints how many frames went to the worker; the test checks that the
 * process ended by itself (the worker and its idle timer must not hold it open).
 */
import { table } from "@ferry/core";
import * as dfd from "danfojs-node";
import danfo, { polarsThread } from "../src/index.ts";

// The idle stop far off: if the worker held the process open, it would stay open, not end 10 s late.
polarsThread.idleMs = 10 * 60_000;
const rows = 200_000;
const frame = new dfd.DataFrame({
  id: Array.from({ length: rows }, (_, i) => i),
  name: Array.from({ length: rows }, (_, i) => `name-${i % 977}`),
  score: Array.from({ length: rows }, (_, i) => i / 7),
});
await table(frame, process.argv[2]!, { flavour: danfo() }).write();
process.stdout.write(JSON.stringify({ offThread: polarsThread.jobsOffThread }));
