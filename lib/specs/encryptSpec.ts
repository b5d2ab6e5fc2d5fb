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
