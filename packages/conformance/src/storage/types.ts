import type { Capabilities, Storage } from "@ferry/plugin-kit";

/** A fresh, isolated storage (empty root) and how to dispose of it. */
export interface StorageFixture {
  storage: Storage;
  cleanup?: (() => Promise<void>) | undefined;
}

export type StorageFactory = () => Promise<StorageFixture>;

/** What each case receives. */
export interface CaseContext {
  storage: Storage;
  /** Declared capabilities with the suite's `capabilities` overrides applied (what cases are gated on). */
  capabilities: Capabilities;
  /** What the storage itself declares (what the honesty cases hold it to). */
  declared: Capabilities;
  /** Part size to pass as `partSize` and to size "multi-part" data with. */
  partSize: number;
  slow: boolean;
  /** Another fresh fixture from the same factory (isolation cases); disposed with this one. */
  another(): Promise<Storage>;
}

/** Named conditions on capabilities; a case runs only when all of its requirements hold. */
export type Requirement =
  | "write"
  | "conditionalWrite"
  | "copy"
  | "move"
  | "mkdir"
  | "emptyDirectories"
  | "realDirectories"
  | "virtualDirectories"
  | "checksum"
  | "contentType"
  | "mtime"
  | "setMtime"
  | "md5"
  | "caseSensitive"
  | "caseInsensitive";

export interface StorageCase {
  /** `<group>: <what it checks>` — the name plugin READMEs use in their gap lists. */
  name: string;
  /** Defaults to ["write"]: almost every case needs to create its own data. */
  needs?: readonly Requirement[];
  run(context: CaseContext): Promise<void>;
}

export interface DescribeStorageOptions {
  /**
   * Overrides applied to the declared capabilities when deciding which cases run, for emulator
   * gaps (e.g. `{ conditionalWrite: false }` against an emulator that ignores If-None-Match).
   * The honesty cases still hold the storage to what it declares.
   */
  capabilities?: Partial<Capabilities>;
  /** Part size for multi-part and chunked writes (default: limits.partSizeMin, else 64 KiB). */
  partSize?: number;
  /** Case name → reason: declared gaps, skipped and printed with the reason. */
  skip?: Record<string, string>;
  /** Register plugin-specific cases that run with the same fixtures and gating. */
  extra?: (context: ExtraContext) => void;
  /** The backend is slow (a remote service): longer timeouts, fewer iterations in the concurrency cases. */
  slow?: boolean;
}

export interface ExtraContext {
  /** Register a case like the built-in ones: fresh fixture, gating by `needs`, honoured by `skip`. */
  test(name: string, run: (context: CaseContext) => Promise<void>, needs?: readonly Requirement[]): void;
  factory: StorageFactory;
  options: DescribeStorageOptions;
}
