export * from "./azurite.ts";
export * from "./fault-proxy.ts";
export * from "./gcs/index.ts";
export * from "./github/index.ts";
export * from "./kill.ts";
export * from "./lifecycle.ts";
export * from "./s3.ts";
export * from "./sshd.ts";
