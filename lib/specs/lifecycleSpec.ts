// The whole image path as one spec: each phase optional, each validated by its own workflow's schema.
import { z } from 'zod';
import { CustomizeSpec } from './customizeSpec';
import { ImportSpec } from './importSpec';

export const LifecycleSpec = z
  .object({
    name: z.string().trim().min(1, 'image name is empty'),
    /** Import new artifacts; or start from `imageId`, an image already in IMS. */
    import: ImportSpec.omit({ name: true }).optional(),
    imageId: z.string().min(1).optional(),
    customize: CustomizeSpec.omit({ imageId: true }).optional(),
  })
  .strict()
  .refine((spec) => Boolean(spec.import) !== Boolean(spec.imageId), {
    message: 'give exactly one of `import` (new artifacts) or `imageId` (an image already in IMS)',
    path: ['import'],
  });
export type LifecycleSpec = z.input<typeof LifecycleSpec>;
