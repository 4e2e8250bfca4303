/** Every real backend at once (sshd where it can run), for tests that go across all systems. */
import {
  type AzuriteBackend,
  type GcsBackend,
  type GithubBackend,
  type S3Backend,
  type SshdBackend,
  sshdSkipReason,
  startAzurite,
  startGcsServer,
  startGithubServer,
  startS3rver,
  startSshd,
} from "@ferry/test-harness";

export interface AllBackends {
  s3rver: S3Backend;
  azurite: AzuriteBackend;
  gcsServer: GcsBackend;
  githubServer: GithubBackend;
  /** Undefined where sshd cannot run (`sshdSkipReason()` says why). */
  sshd: SshdBackend | undefined;
  stop(): Promise<void>;
}

export async function startAllBackends(): Promise<AllBackends> {
  const [s3rver, azurite, gcsServer, githubServer] = await Promise.all([
    startS3rver(),
    startAzurite(),
    startGcsServer(),
    startGithubServer(),
  ]);
  const sshd = sshdSkipReason() ? undefined : await startSshd();
  return {
    s3rver,
    azurite,
    gcsServer,
    githubServer,
    sshd,
    async stop() {
      await Promise.all([s3rver.stop(), azurite.stop(), gcsServer.stop(), githubServer.stop(), sshd?.stop()]);
    },
  };
}
