import { FailureType, transientFailure } from '../../lib/failures';
import { CommandFailed, type CommandRunner } from './commandRunner';

/** A file's size where the target runs (locally or over SSH); null when there is no such file. */
export async function sizeOnServer(runner: CommandRunner, file: string): Promise<number | null> {
  try {
    return Number((await runner.run(['stat', '--format=%s', file])).stdout.trim());
  } catch (error) {
    // `test` answers by exit code whatever the locale the SSH session forwarded (stat's message is translated).
    if (error instanceof CommandFailed && !(await exists(runner, file))) return null;
    throw error;
  }
}

const exists = (runner: CommandRunner, file: string): Promise<boolean> =>
  runner.run(['test', '-e', file]).then(
    () => true,
    (error: unknown) => {
      if (error instanceof CommandFailed && error.exitCode === 1) return false;
      throw error;
    },
  );

/**
 * LIO and tgtd both fix a LUN's size when it is created: never export a missing or partial file.
 * Checks where the target runs (locally or over SSH).
 */
export async function assertStagedSize(runner: CommandRunner, file: string, sizeBytes: number): Promise<void> {
  const size = await sizeOnServer(runner, file).catch(() => null);
  if (size === null) throw transientFailure(FailureType.StagedFileCorrupt, `${file} is not staged on ${runner.where}`);
  if (size !== sizeBytes) throw transientFailure(FailureType.StagedFileCorrupt, `${file} on ${runner.where} is ${size} bytes, expected ${sizeBytes}`);
}
