// Inputs of the export activities: zod schemas, the single source of their types and error messages.
import { z } from 'zod';

const Ref = z.string().min(1);

export const ArtifactLinkInput = z.object({
  linkPath: z.string().startsWith('s3://'),
  linkEtag: z.string().min(1),
});

export const StageInput = ArtifactLinkInput.extend({ md5: z.string().regex(/^[0-9a-fA-F]{32}$/, 'an MD5 in hex') });
export type StageInput = z.infer<typeof StageInput>;

export const Initiators = z.union([
  z.literal('generate-node-acls'),
  z.array(z.string().startsWith('iqn.')).min(1),
  /** A ClusterShell node set and the IQN each node's name fits into, e.g. `iqn.2026-01.org.site:{node}`. */
  z.object({ nodes: z.string().min(1), iqnPattern: z.string().includes('{node}') }),
]);
export type Initiators = z.infer<typeof Initiators>;

export const ExportInput = ArtifactLinkInput.extend({
  backingFile: z.string().startsWith('/'),
  sizeBytes: z.number().int().positive(),
  initiators: Initiators,
  chap: z
    .object({ userRef: Ref, secretRef: Ref, mutual: z.object({ userRef: Ref, secretRef: Ref }).optional() })
    .optional(),
  portals: z.array(z.object({ address: z.string().min(1), port: z.number().int().min(1).max(65535) })),
});
export type ExportInput = z.infer<typeof ExportInput>;

export const DropStagedInput = z.object({ links: z.array(ArtifactLinkInput).min(1), dryRun: z.boolean().default(false) });
