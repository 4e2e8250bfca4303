/**
 * A user's script for polars-thread.test.ts: writes a danfo frame big enough for the polars worker and
 * ends without closing anything. Prints how many frames went to the worker (or, with `throwing`, the
 * error of a write whose last value throws as it is read); the test checks that the process ended by
 * itself (the worker and its idle timer must not hold it open).
 */
import { table } from "@ferry/core";
import * as dfd from "danfojs-node";
import danfo, { polarsThread } from "../src/index.ts";

// The idle stop far off: if the worker held the process open, it would stay open, not end 10 s late.
polarsThread.idleMs = 10 * 60_000;
const rows = 200_000;
/** A user's own Date subclass whose time cannot be read (it throws as the write reads it). */
class Unreadable extends Date {
  override getTime(): number {
    throw new Error("this date cannot be read");
  }
}
const at = Array.from({ length: rows }, (_, i) => new Date(i * 1000));
if (process.argv[3] === "throwing") at[rows - 1] = new Unreadable(0);
const frame = new dfd.DataFrame({
  id: Array.from({ length: rows }, (_, i) => i),
  name: Array.from({ length: rows }, (_, i) => `name-${i % 977}`),
  score: Array.from({ length: rows }, (_, i) => i / 7),
  at,
});
const error = await table(frame, process.argv[2]!, { flavour: danfo() })
  .write()
  .then(
    () => undefined,
    (e: Error) => e.message,
  );
process.stdout.write(JSON.stringify(error ? { error } : { offThread: polarsThread.jobsOffThread }));
