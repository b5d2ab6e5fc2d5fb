// What attachNodes takes: nodes waiting in the project's initramfs (node/initramfs/bootimg-root) for the
// secrets their boot parameters name, and where those secrets are (references only: the LUKS key by key
// id, the CHAP credentials by secret names). The nodes must be waiting for exactly this image: their
// kernel command line must name this WWID and these references, or nothing is pushed to them.
import { z } from 'zod';
import { NodeSet } from './bootParamsSpec';
import { IscsiBootSpec } from './iscsiBootSpec';
import { ChapRefs } from './exportSpec';
import { retryField } from './retrySpec';

/** The node-side parameters attach checks and pushes for; the lifecycle fills them in from its phases. */
export const AttachOptions = z
  .object({
    /** How long each node may take to reach its initramfs and answer SSH (the hook waits `bootimg.wait=`, 900 s by default). */
    waitSeconds: z.number().int().min(10).max(6 * 3600).default(900),
    /** Nodes per attachNodeChunk activity, and chunks in flight at once. */
    chunkSize: z.number().int().min(1).max(200).default(25),
    chunksInFlight: z.number().int().min(1).max(32).default(4),
    /** Failed nodes named in the result and the error; the result counts every one. */
    firstFailures: z.number().int().min(1).max(200).default(20),
  })
  .strict();

export const AttachNodesSpec = AttachOptions.extend({
  ...retryField,
  nodes: NodeSet,
  /** What the nodes' command lines must say (`bootimg.lun.wwid=`, `bootimg.luks.key=`, `bootimg.iscsi.chap=`). */
  iscsi: IscsiBootSpec.required({ lunWwid: true, luksKeyRef: true }).omit({ targets: true }),
  /** The node's CHAP credentials (and the target's, for mutual CHAP) in the orchestrator's secret store: needed when `iscsi.chapRef` is given. */
  chap: ChapRefs.optional(),
})
  .strict()
  .refine((spec) => Boolean(spec.iscsi.chapRef) === Boolean(spec.chap), {
    message: 'give iscsi.chapRef (what the node waits for) and chap (where its credentials are) together',
    path: ['chap'],
  });
export type AttachNodesSpec = z.input<typeof AttachNodesSpec>;
export type ParsedAttachNodesSpec = z.output<typeof AttachNodesSpec>;
