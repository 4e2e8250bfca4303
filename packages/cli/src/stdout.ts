/**
 * A reader that goes away (`ferry ls -R | head -1`, `ferry cat big | head -c 10`) ends ferry the way
 * it ends coreutils and rclone: no message, the work in progress aborted, and the status a shell
 * reports for a process stopped by SIGPIPE (128 + 13 = 141). Node ignores SIGPIPE and would
 * otherwise throw EPIPE from the next write.
 */

/** 128 + SIGPIPE: what `$?` / PIPESTATUS say for `seq 1 1000000 | head -1`. */
export const PIPE_CLOSED_STATUS = 141;

let closed = false;
let watching = false;

/** True once a write to stdout failed because nobody reads it any more. */
export function stdoutClosed(): boolean {
  return closed;
}

/** EPIPE on an error: the reader of stdout (or stderr) is gone. */
export function isClosedPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "EPIPE";
}

/**
 * Watch stdout and stderr for a reader that went away; `onStdoutClosed` aborts the work in progress.
 * A closed stderr is ignored (there is nowhere left to say anything); stdout's other write errors
 * (a full disk behind `> file`) also stop the work, and are reported by the command.
 */
export function watchOutputStreams(onStdoutClosed: (reason: Error) => void): void {
  if (watching) return;
  watching = true;
  process.stdout.on("error", (error: Error) => {
    if (isClosedPipe(error)) {
      closed = true;
      // A write queued behind a full pipe can fail after the command has already finished.
      process.exitCode = PIPE_CLOSED_STATUS;
    }
    onStdoutClosed(error);
  });
  process.stderr.on("error", () => undefined);
}
