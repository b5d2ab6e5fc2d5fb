import path from 'node:path';
import { z } from 'zod';



const absolutePath = z.string().refine((value) => path.isAbsolute(value), 'must be an absolute path');
const luksVersion = z.union([z.literal(1), z.literal(2)]).default(2);
const sectorSize = z.union([z.literal(512), z.literal(4096)]);

const withSectorSize = <T extends { luksVersion: 1 | 2; sectorSize?: 512 | 4096 }>(input: T, ctx: z.RefinementCtx) => {
  if (input.luksVersion === 1 && input.sectorSize === 4096) {
    ctx.addIssue({ code: 'custom', path: ['sectorSize'], message: 'LUKS1 supports only 512-byte sectors' });
  }
};

/** The key slot's KDF: PBKDF2 at this count instead of cryptsetup's benchmarked default (lib/specs/encryptSpec.ts). */
const pbkdf2Iterations = z.number().int().min(1000).max(100_000_000).optional();

export const EncryptFileInput = z
  .object({
    /** The plaintext: a raw or squashfs rootfs image on this worker. */
    source: absolutePath,
    /** Where the container goes; never overwritten. */
    destination: absolutePath,
    /** A key from the key store; a new key is created when absent. */
    keyId: z.string().min(1).optional(),
    luksVersion,
    /** Default: 4096 for LUKS2, 512 for LUKS1. */
    sectorSize: sectorSize.optional(),
    pbkdf2Iterations,
  })
  .superRefine(withSectorSize)
  .transform((input) => ({ ...input, sectorSize: input.sectorSize ?? (input.luksVersion === 2 ? 4096 : 512) }));
export type EncryptFileInput = z.input<typeof EncryptFileInput>;

export const VerifyEncryptedFileInput = z
  .object({
    container: absolutePath,
    /** The plaintext the container must hold. */
    source: absolutePath,
    keyId: z.string().min(1),
    /** The UUID encryptFile reported. */
    uuid: z.string().min(1),
    luksVersion,
    sectorSize,
    /** Random sectors decrypted and compared, in addition to the reference decryption. */
    sampleSectors: z.number().int().min(0).default(256),
    /** LUKS2: bytes at the start of the data area that cryptsetup itself decrypts (LUKS1: qemu decrypts all). */
    referenceWindowBytes: z.number().int().positive().default(64 << 20),
  })
  .superRefine(withSectorSize);
export type VerifyEncryptedFileInput = z.input<typeof VerifyEncryptedFileInput>;
