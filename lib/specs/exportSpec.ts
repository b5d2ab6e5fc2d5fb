import { z } from 'zod';
import { MediaType } from '../manifest';

const Ref = z.string().min(1);
const Portal = z.object({ address: z.string().min(1), port: z.number().int().min(1).max(65535).default(3260) }).strict();

export const ExportSpec = z
  .object({
    imageId: z.string().min(1, 'image id is empty'),
    /** Which manifest artifact to export, by media type: the squashfs rootfs, or its LUKS container. */
    artifactType: z.string().min(1).default(MediaType.rootfs),
    servers: z
      .array(z.object({ name: z.string().min(1), portals: z.array(Portal).min(1).optional() }).strict())
      .min(1, 'give at least one iSCSI server'),
    initiators: z.union([
      z.literal('generate-node-acls'),
      z.array(z.string().startsWith('iqn.', 'an initiator IQN starts with "iqn."')).min(1),
      z.object({ nodes: z.string().min(1), iqnPattern: z.string().includes('{node}', { message: 'the pattern needs {node}' }) }).strict(),
    ]),
    chap: z.object({ userRef: Ref, secretRef: Ref, mutual: z.object({ userRef: Ref, secretRef: Ref }).strict().optional() }).strict().optional(),
  })
  .strict();
export type ExportSpec = z.input<typeof ExportSpec>;
