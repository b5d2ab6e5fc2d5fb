// libiscsi as the initiator, for tests: the production module (activities/initiator/libiscsi.ts), plus a
// write attempt in the shape the target driver tests read.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { probeLun, writeBack, type Login, type LunAddress } from '../../../activities/initiator/libiscsi';

export { discover, identify, naaMatchesWwid, readCapacity, type Login, type LunAddress } from '../../../activities/initiator/libiscsi';

/** Whether the LUN takes a write (of sector 0's own bytes); `output` is the refusal when refused. */
export async function tryWrite(lun: LunAddress, login: Login): Promise<{ ok: boolean; output: string }> {
  const secretsDir = await mkdtemp(path.join(tmpdir(), 'initiator-'));
  try {
    const probe = await probeLun(lun, login, { bytes: 512 });
    if (probe.writeProtected) return { ok: false, output: probe.reopen };
    const write = await writeBack(lun, login, probe.head, secretsDir);
    return { ok: write.written, output: write.output };
  } finally {
    await rm(secretsDir, { recursive: true, force: true });
  }
}
