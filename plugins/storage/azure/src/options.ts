import type { TokenCredential } from "@azure/identity";
import type { BlobServiceClient } from "@azure/storage-blob";
import type { Capabilities, Duration } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";

export const MiB = 1024 * 1024;

/**
 * Options for `azure()`. Everything is optional: with none, configuration comes from
 * `AZURE_STORAGE_CONNECTION_STRING`, or `AZURE_STORAGE_ACCOUNT` with `AZURE_STORAGE_KEY`,
 * `AZURE_STORAGE_SAS_TOKEN` or, failing both, DefaultAzureCredential.
 */
export interface AzureOptions {
  /** A storage connection string (account key or SAS). Default: `AZURE_STORAGE_CONNECTION_STRING`. */
  connectionString?: string;
  /** Storage account name. Default: `AZURE_STORAGE_ACCOUNT`. */
  account?: string;
  /** Account key (enables presigned URLs). Default: `AZURE_STORAGE_KEY`. */
  accountKey?: string;
  /** A SAS token (with or without the leading `?`). Default: `AZURE_STORAGE_SAS_TOKEN`. */
  sasToken?: string;
  /**
   * A token credential, e.g. `new DefaultAzureCredential()`. When an account is named but no key, SAS or
   * credential is given, DefaultAzureCredential from @azure/identity is loaded and used.
   */
  credential?: TokenCredential;
  /** Blob service endpoint. Default: `https://<account>.blob.core.windows.net`. */
  blobEndpoint?: string;
  /** Your own configured `BlobServiceClient`; all credential options are then ignored. */
  serviceClient?: BlobServiceClient;
  /** Block size for block uploads, and the largest body sent as one Put Blob (bytes). Default 16 MiB. */
  blockSize?: number;
  /** Blocks staged in parallel. Memory for an upload is bounded by (concurrency + 1) × blockSize. Default 4. */
  concurrency?: number;
  /**
   * `mkdir` writes an empty `dir/` blob with metadata `hdi_isfolder=true` (the convention rclone and
   * Microsoft tools share), so empty directories exist. Default false: directories are name prefixes only.
   */
  directoryMarkers?: boolean;
  /** Set Content-Type from the file name when the caller gives none. Default true. */
  contentTypeDetection?: boolean;
  /**
   * The container used when a location names only the system, as in `folder.to("azure")` (which lands
   * at `<container>/ferry-folder/<32 hex>`). Default: `FERRY_AZURE_CONTAINER`; none means such a
   * location asks for one.
   */
  defaultContainer?: string;
  /** Narrow the declared capabilities (for an emulator or a restricted account). */
  capabilities?: Partial<Omit<Capabilities, "version" | "limits">> & { limits?: Capabilities["limits"] };
  /**
   * Idle timeout: a request that passes no byte either way for this long (a stalled connection) is
   * ended and fails as Transient ("no data from HOST for 60 s while reading az://container/blob"),
   * which transfers retry. Milliseconds, or a duration such as "30s" or "2m"; 0 turns it off.
   * Default: `setIdleTimeout()` / the CLI's `--timeout`, else `FERRY_TIMEOUT`, else 60 s. Not applied
   * to your own `client`.
   */
  timeout?: Duration;
}

export interface ResolvedAzureOptions {
  blockSize: number;
  concurrency: number;
  contentTypeDetection: boolean;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw errors.invalidInput(`azure(): ${name} must be a positive integer, got ${value}`, { system: "az" });
  }
  return value;
}

export function resolveOptions(options: AzureOptions): ResolvedAzureOptions {
  return {
    blockSize: positive("blockSize", options.blockSize, 16 * MiB),
    concurrency: positive("concurrency", options.concurrency, 4),
    contentTypeDetection: options.contentTypeDetection ?? true,
  };
}

/** How the service client will authenticate, decided from options and the environment without loading the SDK. */
export type AuthPlan =
  | { kind: "client"; client: BlobServiceClient }
  | { kind: "connectionString"; connectionString: string; hasKey: boolean }
  | { kind: "key"; account: string; accountKey: string; endpoint: string }
  | { kind: "sas"; account: string; sasToken: string; endpoint: string }
  | { kind: "token"; account: string; credential: TokenCredential | undefined; endpoint: string };

export function planAuth(options: AzureOptions, env: NodeJS.ProcessEnv = process.env): AuthPlan {
  if (options.serviceClient) return { kind: "client", client: options.serviceClient };
  const connectionString =
    options.connectionString ?? (options.account ? undefined : env.AZURE_STORAGE_CONNECTION_STRING);
  if (connectionString)
    return {
      kind: "connectionString",
      connectionString,
      hasKey: /(^|;)\s*AccountKey\s*=/i.test(connectionString),
    };
  const account = options.account ?? env.AZURE_STORAGE_ACCOUNT;
  if (!account) {
    throw errors.invalidInput(
      "azure: no storage account configured: set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT, or pass { connectionString } or { account } to azure()",
      { system: "az" },
    );
  }
  const endpoint = (options.blobEndpoint ?? `https://${account}.blob.core.windows.net`).replace(/\/+$/, "");
  const accountKey =
    options.accountKey ?? (options.credential || options.sasToken ? undefined : env.AZURE_STORAGE_KEY);
  if (accountKey) return { kind: "key", account, accountKey, endpoint };
  const sasToken = options.sasToken ?? (options.credential ? undefined : env.AZURE_STORAGE_SAS_TOKEN);
  if (sasToken) return { kind: "sas", account, sasToken: sasToken.replace(/^\?/, ""), endpoint };
  return { kind: "token", account, credential: options.credential, endpoint };
}

/** Presigned (SAS) URLs need the account key to sign with. */
export function canPresign(plan: AuthPlan): boolean {
  return plan.kind === "key" || (plan.kind === "connectionString" && plan.hasKey);
}

/** Values never to appear in a message. */
export function secretsOf(plan: AuthPlan): string[] {
  switch (plan.kind) {
    case "key":
      return [plan.accountKey];
    case "sas":
      return [plan.sasToken];
    case "connectionString": {
      const values = plan.connectionString
        .split(";")
        .filter((part) => /^\s*(AccountKey|SharedAccessSignature)\s*=/i.test(part))
        .map((part) => part.slice(part.indexOf("=") + 1));
      return values.filter((value) => value.length > 0);
    }
    default:
      return [];
  }
}
