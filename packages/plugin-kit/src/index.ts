/**
 * @ferry/plugin-kit — what a ferry plugin is written against, in one place: the storage contract
 * (`StorageDriver`, `Entry`, `Capabilities`), the table-flavour contract (`TableFlavour`, `Schema`),
 * `FerryError` and the error-mapping kit (redact, classify network failures, describe stalls), MD5 on a
 * worker thread, part buffers and stream helpers, idle timeouts for any HTTP client, temp names and key
 * paths. Users of ferry import `@ferry/core`, which re-exports the contract types they meet.
 */
export * from "./errors.ts";
export * from "./event-loop.ts";
export * from "./idle-agent.ts";
export * from "./idle-fetch.ts";
export * from "./idle-timeout.ts";
export * from "./lazy.ts";
export * from "./leftovers.ts";
export * from "./location.ts";
export * from "./md5.ts";
export * from "./option-checks.ts";
export * from "./paths.ts";
export * from "./plugin.ts";
export * from "./redact.ts";
export * from "./sdk-errors.ts";
export * from "./storage.ts";
export * from "./streams.ts";
export * from "./table-contract.ts";
export * from "./wording.ts";
