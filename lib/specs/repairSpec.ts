import { z } from 'zod';
import { retryField } from './retrySpec';

export const RepairManifestsSpec = z
  .object({
    /** Images to check; all IMS images when absent. */
    imageIds: z.array(z.string().min(1)).min(1, 'give at least one image id, or leave imageIds out for all images').optional(),
    dryRun: z.boolean().default(false),
    /** Images checked at once. */
    concurrency: z.number().int().min(1).max(50).default(8),
    ...retryField,
  })
  .strict();
export type RepairManifestsSpec = z.input<typeof RepairManifestsSpec>;
