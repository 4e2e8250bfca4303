export { EXIT, exitCodeFor } from "./exit-codes.ts";
export { buildProgram, main } from "./main.ts";
