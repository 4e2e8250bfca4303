/** The second thread of a large small-file capture: batches of tasks in, their outcomes out, in order. */
import { parentPort, workerData } from "node:worker_threads";
import { SmallFileCapturer, type SmallFileTask, WORKER_READY } from "./small-files.ts";

const capturer = new SmallFileCapturer((workerData as { tempPrefix: string }).tempPrefix);
parentPort?.on("message", (tasks: SmallFileTask[]) => {
  parentPort?.postMessage(capturer.captureAll(tasks));
});
parentPort?.postMessage(WORKER_READY);
