import { z } from 'zod';
import { Minutes, week } from './minutes';
import { retryField } from './retrySpec';

export const CfsLayerSpec = z
  .object({
    name: z.string().min(1).optional(),
    cloneUrl: z.string().min(1, 'clone URL is empty'),
    playbook: z.string().min(1, 'playbook is empty'),
    commit: z.string().regex(/^[0-9a-f]{7,40}$/, 'not a git commit id').optional(),
    branch: z.string().min(1).optional(),
  })
  .strict()
  .refine((layer) => Boolean(layer.commit) !== Boolean(layer.branch), { message: 'give exactly one of commit or branch' });

export const CustomizeSpec = z
  .object({
    imageId: z.string().min(1, 'image id is empty'),
    /** An existing CFS configuration, or one to create or update from `layers`. */
    configuration: z.string().min(1).max(60, 'CFS configuration names are at most 60 characters'),
    layers: z.array(CfsLayerSpec).min(1).optional(),
    /** Name of the resultant IMS image; CFS generates one when absent. */
    resultName: z.string().min(1).optional(),
    deadlineMinutes: Minutes(week, 'a week').default(120),
    pollIntervalSeconds: z.number().min(1).max(600).default(15),
    ...retryField,
  })
  .strict();
export type CustomizeSpec = z.input<typeof CustomizeSpec>;
