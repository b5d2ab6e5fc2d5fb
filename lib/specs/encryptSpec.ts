// What encryptImage takes: an IMS image whose rootfs becomes a LUKS container next to it.
import { z } from 'zod';
import { retryField } from './retrySpec';

/** How to encrypt; the lifecycle takes these, the image coming from its earlier phases. */
export const EncryptOptionFields = z
  .object({
    /** LUKS2 (what current cryptsetup and systemd read) unless LUKS1 is asked for. */
    luksVersion: z.union([z.literal(1), z.literal(2)]).default(2),
    /** Default: 4096 for LUKS2, 512 for LUKS1. */
    sectorSize: z.union([z.literal(512), z.literal(4096)]).optional(),
    /** Encrypt with a key already in the key store (its id); a new key is made otherwise. */
    keyId: z.string().min(1).optional(),
    /**
     * The key slot's KDF: PBKDF2 at this many iterations instead of cryptsetup's benchmarked Argon2id
     * (LUKS2) or PBKDF2 (LUKS1). The key is 512 random bits, so a cheap KDF loses no strength, while
     * Argon2id's memory cost (up to 1 GiB, benchmarked on the encrypting host) is paid by every node at
     * every boot, in its initramfs: too much for small-memory nodes and VMs.
     */
    pbkdf2Iterations: z.number().int().min(1000, 'cryptsetup needs at least 1000 PBKDF2 iterations').max(100_000_000).optional(),
    /** Random sectors decrypted independently and compared with the plaintext, besides the reference check. */
    sampleSectors: z.number().int().min(0).max(65536).default(256),
    /** Encrypt again even when the manifest already has a LUKS container of this rootfs. */
    replace: z.boolean().default(false),
  })
  .strict();

export const sectorSizeRule: [(spec: { luksVersion?: number; sectorSize?: number }) => boolean, { message: string; path: string[] }] = [
  (spec: { luksVersion?: number; sectorSize?: number }) => !(spec.luksVersion === 1 && spec.sectorSize === 4096),
  { message: 'LUKS1 supports only 512-byte sectors', path: ['sectorSize'] },
];

export const EncryptOptions = EncryptOptionFields.refine(...sectorSizeRule);

export const EncryptSpec = EncryptOptionFields.extend({ imageId: z.string().min(1, 'image id is empty'), ...retryField }).refine(...sectorSizeRule);
export type EncryptSpec = z.input<typeof EncryptSpec>;
