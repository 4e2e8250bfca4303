export { Crc32c } from "./crc32c.ts";
export {
  type GcsBackend,
  type GcsFault,
  type GcsRequestRecord,
  type GcsServerOptions,
  startGcsServer,
} from "./server.ts";
