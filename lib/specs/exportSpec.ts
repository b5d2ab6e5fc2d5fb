// What exportImage takes. Every name that reaches targetcli or tgtadm is checked here, before anything
// runs; the activities parse the same pieces again at their boundary (activities/export/inputs.ts).
import { z } from 'zod';
import { exportLayouts, type ExportLayout } from '../exportLayout';
import { iqnLabelProblem, iscsiNameProblem, portalAddressProblem, secretRefProblem } from '../iscsiNames';
import { MediaType } from '../manifest';
import { expandNodeset } from '../nodeset';
import { retryField } from './retrySpec';

/** A string refined by a `problem` function: its message is the issue. */
const checked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: 'custom', message });
  });

export const IscsiName = checked(iscsiNameProblem);
export const SecretRef = checked(secretRefProblem);
export const PortalAddress = checked(portalAddressProblem);

/** `{ userRef, secretRef }` names secrets in the iSCSI server's store; `mutual` is what the target presents. */
export const ChapRefs = z
  .object({ userRef: SecretRef, secretRef: SecretRef, mutual: z.object({ userRef: SecretRef, secretRef: SecretRef }).strict().optional() })
  .strict();

/** A ClusterShell node set and the IQN each node's name fits into, e.g. `iqn.2026-01.org.site:{node}`. */
export const NodeInitiators = z
  .object({ nodes: z.string().min(1), iqnPattern: z.string().includes('{node}', { message: 'the pattern needs {node}' }) })
  .strict()
  .superRefine((value, ctx) => {
    let nodes: string[];
    try {
      nodes = expandNodeset(value.nodes);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['nodes'], message: (error as Error).message });
      return;
    }
    const problems = nodes.map((node) => iscsiNameProblem(value.iqnPattern.replaceAll('{node}', node))).filter(Boolean);
    if (problems.length) {
      ctx.addIssue({ code: 'custom', path: ['iqnPattern'], message: `${problems.length} of ${nodes.length} node IQN(s) are invalid, e.g. ${problems[0]}` });
    }
  });

export const Initiators = z.union([z.literal('generate-node-acls'), z.array(IscsiName).min(1), NodeInitiators], {
  error: 'initiators: "generate-node-acls", a list of initiator IQNs, or { nodes, iqnPattern }',
});
export type Initiators = z.infer<typeof Initiators>;

export const Portal = z.object({ address: PortalAddress, port: z.number().int().min(1).max(65535).default(3260) }).strict();

const ServerName = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'a host name (letters, digits, "-" and ".")');

/** Where and how an image is exported: everything but which image. */
const ExportPlacementFields = z.object({
  servers: z.array(z.object({ name: ServerName, portals: z.array(Portal).min(1).optional() }).strict()).min(1, 'give at least one iSCSI server'),
  initiators: Initiators,
  chap: ChapRefs.optional(),
  /** Default: `per-image` when ACLs or CHAP are asked for, else `sbps`. */
  layout: z.enum(exportLayouts).optional(),
  /** Per-image layout: the target is `<targetPrefix><targetName>` (default name: the IMS image name). */
  targetName: checked(iqnLabelProblem).optional(),
  targetPrefix: z.string().optional(),
});

type PlacementFields = z.infer<typeof ExportPlacementFields>;

/** ACLs or CHAP: what the sbps layout's open target, shared by every image, must never get. */
export const restrictsAccess = (spec: Pick<PlacementFields, 'initiators' | 'chap'>): boolean => spec.initiators !== 'generate-node-acls' || Boolean(spec.chap);

/** The layout an export gets: the one asked for, else per-image when it restricts access. */
export const layoutOf = (spec: Pick<PlacementFields, 'layout' | 'initiators' | 'chap'>): ExportLayout => spec.layout ?? (restrictsAccess(spec) ? 'per-image' : 'sbps');

function layoutRules(spec: PlacementFields, ctx: z.RefinementCtx) {
  if (spec.layout === 'sbps') {
    if (restrictsAccess(spec)) {
      ctx.addIssue({
        code: 'custom',
        path: ['layout'],
        message:
          'the sbps layout is the SBPS marshal\'s open target, shared by every image on the server: ACLs or CHAP there would change who reaches every other image; use layout "per-image" (the default when initiators or chap are given)',
      });
    }
    for (const field of ['targetName', 'targetPrefix'] as const) {
      if (spec[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `${field} names a per-image target; the sbps layout uses iqn.2023-06.csm.iscsi:<host>` });
    }
  }
  if (spec.targetPrefix !== undefined) {
    const problem = iscsiNameProblem(`${spec.targetPrefix}x`);
    if (problem || !/[:.]$/.test(spec.targetPrefix)) {
      ctx.addIssue({ code: 'custom', path: ['targetPrefix'], message: `${JSON.stringify(spec.targetPrefix)} is not an IQN prefix ending in ":" or "." (e.g. "iqn.2026-01.org.site:")` });
    }
  }
}

/** The lifecycle's `export` phase: the image comes from the phases before it. */
export const ExportPlacement = ExportPlacementFields.strict().superRefine(layoutRules);

export const ExportSpec = z
  .object({
    imageId: z.string().min(1, 'image id is empty'),
    /** Which manifest artifact to export, by media type: the squashfs rootfs, or its LUKS container. */
    artifactType: z.string().min(1).default(MediaType.rootfs),
    ...ExportPlacementFields.shape,
    ...retryField,
  })
  .strict()
  .superRefine(layoutRules);
export type ExportSpec = z.input<typeof ExportSpec>;
