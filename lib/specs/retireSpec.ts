import { z } from 'zod';
import { retryField } from './retrySpec';

export const RetireImageSpec = z
  .object({
    imageId: z.string().min(1, 'image id is empty'),
    /** The iSCSI servers the image may be exported from: each one's exports and staged files of it go. */
    servers: z.array(z.object({ name: z.string().min(1, 'server name is empty') }).strict()).min(1, 'give at least one iSCSI server'),
    /** Check BSS and report what would be removed; remove nothing. */
    dryRun: z.boolean().default(false),
    ...retryField,
  })
  .strict();
export type RetireImageSpec = z.input<typeof RetireImageSpec>;
