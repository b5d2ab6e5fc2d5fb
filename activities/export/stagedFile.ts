import { FailureType, transientFailure } from '../../lib/failures';
import type { CommandRunner } from './commandRunner';

/**
 * LIO and tgtd both fix a LUN's size when it is created: never export a missing or partial file.
 * Runs `stat` through the runner so the check happens where the target runs (locally or over SSH).
 */
export async function assertStagedSize(runner: CommandRunner, file: string, sizeBytes: number): Promise<void> {
  const { stdout } = await runner.run(['stat', '--format=%s', file]).catch(() => {
    throw transientFailure(FailureType.StagedFileCorrupt, `${file} is not staged on ${runner.where}`);
  });
  if (Number(stdout.trim()) !== sizeBytes) {
    throw transientFailure(FailureType.StagedFileCorrupt, `${file} on ${runner.where} is ${stdout.trim()} bytes, expected ${sizeBytes}`);
  }
}
