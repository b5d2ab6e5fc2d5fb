// tgtd keeps its configuration in memory only (and `tgt-admin --dump` drops passwords and LUN
// parameters), so the agent keeps its own record of what it exported: enough to re-create every target
// at the same LUN after tgtd restarts, and to know which CHAP accounts are its own. Secrets are not in
// it: CHAP credentials as references, plus a SHA-224 fingerprint of each account's password, which is
// how an export that would change another image's account is refused (tgt accounts are server-wide).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ChapRefs, Portal } from '../../lib/specs/exportSpec';
import { Placement } from '../export/inputs';

const RecordedExport = z.object({
  targetIqn: z.string(),
  placement: Placement,
  lun: z.number().int(),
  linkPath: z.string(),
  linkEtag: z.string(),
  backingFile: z.string(),
  sizeBytes: z.number().int(),
  initiators: z.union([z.literal('generate-node-acls'), z.array(z.string())]),
  chap: ChapRefs.optional(),
  portals: z.array(Portal),
  /** False while the export is being made: a removal still finds what a failed attempt left. */
  complete: z.boolean(),
});
export type RecordedExport = z.infer<typeof RecordedExport>;

const TgtRecord = z.object({
  exports: z.array(RecordedExport).default([]),
  /** CHAP user → SHA-224 of its password, for the accounts this agent created. */
  accounts: z.record(z.string(), z.string()).default({}),
});
export type TgtRecord = z.infer<typeof TgtRecord>;

export async function readRecord(file: string): Promise<TgtRecord> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (text === null) return TgtRecord.parse({});
  const parsed = TgtRecord.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file} is not the agent's export record: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Written whole under a temporary name, then renamed: a crash leaves the old record or the new one. */
export async function writeRecord(file: string, record: TgtRecord): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${randomBytes(4).toString('hex')}`;
  await writeFile(temporary, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  await rename(temporary, file);
}
