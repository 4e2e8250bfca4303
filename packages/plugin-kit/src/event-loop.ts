/**
 * Small local files are written, copied and stat'ed with synchronous calls (see local/), so a long
 * run of them can finish one after another in promise continuations without the event loop ever
 * reaching its I/O phase: no Ctrl-C, no progress output, no timers until the end. Loops over many
 * items call `breathe()` between them: at most every few milliseconds it waits for one turn of the
 * event loop, which costs a microsecond or two.
 */
const BREATHE_EVERY_MS = 10;
let lastTurn = performance.now();

export async function breathe(): Promise<void> {
  const now = performance.now();
  if (now - lastTurn < BREATHE_EVERY_MS) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  lastTurn = performance.now();
}
