// Inputs of the export activities: zod schemas, the single source of their types and error messages.
// They reuse the workflow spec's checked names, so nothing that reaches targetcli or tgtadm is unchecked
// even when an activity is called directly.
import { z } from 'zod';
import { ChapRefs, Initiators, IscsiName, Portal, restrictsAccess } from '../../lib/specs/exportSpec';

export const ArtifactLinkInput = z.object({
  linkPath: z.string().startsWith('s3://'),
  linkEtag: z.string().min(1),
});

export const StageInput = ArtifactLinkInput.extend({ md5: z.string().regex(/^[0-9a-fA-F]{32}$/, 'an MD5 in hex') });
export type StageInput = z.infer<typeof StageInput>;

/** Which export to remove: the artifact's LUN, and the image's own target when it has one. */
export const RemoveInput = ArtifactLinkInput.extend({ targetIqn: IscsiName.optional() });

export const Placement = z.discriminatedUnion('layout', [
  z.object({ layout: z.literal('sbps') }).strict(),
  z.object({ layout: z.literal('per-image'), targetIqn: IscsiName }).strict(),
]);

export const ExportInput = ArtifactLinkInput.extend({
  placement: Placement,
  backingFile: z.string().regex(/^\/[A-Za-z0-9._/-]+$/, 'an absolute path of letters, digits, ".", "_", "-" and "/"'),
  sizeBytes: z.number().int().positive(),
  initiators: Initiators,
  chap: ChapRefs.optional(),
  portals: z.array(Portal),
}).refine((input) => input.placement.layout === 'per-image' || !restrictsAccess(input), {
  message: 'the sbps layout is open access on a target every image shares: ACLs and CHAP need the per-image layout',
  path: ['placement'],
});
export type ExportInput = z.input<typeof ExportInput>;

export const DropStagedInput = z.object({ links: z.array(ArtifactLinkInput).min(1), dryRun: z.boolean().default(false) });
