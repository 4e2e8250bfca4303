export * from "./storage/index.ts";
export * from "./table.ts";
