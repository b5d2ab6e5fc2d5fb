// The whole image path as one spec: each phase optional, each validated by its own workflow's schema
// (less what the lifecycle fills in from the phases before it: the image id, the iSCSI targets).
import { z } from 'zod';
import { AttachOptions } from './attachSpec';
import { baseParamsRule, NodeSet, UpdateBootParametersFields } from './bootParamsSpec';
import { CustomizeSpec } from './customizeSpec';
import { EncryptOptions } from './encryptSpec';
import { ExportPlacement } from './exportSpec';
import { ImportSpec } from './importSpec';
import { RetrySpec } from './retrySpec';
import { ValidationOfExport } from './validateSpec';

export const LifecycleSpec = z
  .object({
    name: z.string().trim().min(1, 'image name is empty').max(255, 'an image name is at most 255 characters'),
    /** Import new artifacts; or start from `imageId`, an image already in IMS. */
    import: ImportSpec.omit({ name: true, retry: true }).optional(),
    imageId: z.string().min(1).optional(),
    customize: CustomizeSpec.omit({ imageId: true, retry: true }).optional(),
    /** LUKS-encrypt the rootfs; the export then serves the container. */
    encrypt: EncryptOptions.optional(),
    export: ExportPlacement.optional(),
    /** Point the nodes at the image; with an export, the iSCSI targets, WWID and key reference are filled in. */
    /**
     * From the nodes' side, before their boot parameters change: every node reaches every server and
     * opens the exported LUN (targets, WWID, LUKS UUID and key come from the earlier phases).
     */
    validate: ValidationOfExport.optional(),
    /** Every phase's retry budget: each phase's workflow gets it. */
    retry: RetrySpec,
    bootParameters: UpdateBootParametersFields.omit({ imageId: true, manifestPath: true, retry: true }).refine(...baseParamsRule).optional(),
    /**
     * After the rollout, push the LUKS key (and the CHAP credentials) to the nodes as they wait in the
     * project's initramfs (node/README.md); by default to every node of the rollout.
     */
    attach: AttachOptions.extend({ nodes: NodeSet.optional() }).strict().optional(),
  })
  .strict()
  .refine((spec) => Boolean(spec.import) !== Boolean(spec.imageId), {
    message: 'give exactly one of `import` (new artifacts) or `imageId` (an image already in IMS)',
    path: ['import'],
  })
  .refine((spec) => !spec.validate || spec.export, { message: 'validate checks the export: give `export` too', path: ['validate'] })
  .refine((spec) => !spec.attach || spec.bootParameters, { message: 'attach pushes what the rollout\'s boot parameters name: give `bootParameters` too', path: ['attach'] })
  .refine((spec) => !spec.attach || spec.encrypt || spec.bootParameters?.iscsi?.luksKeyRef, {
    message: 'attach pushes the LUKS key the nodes wait for: give `encrypt`, or bootParameters.iscsi.luksKeyRef',
    path: ['attach'],
  });
export type LifecycleSpec = z.input<typeof LifecycleSpec>;
