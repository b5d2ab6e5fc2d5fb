// What a boot parameters rollout and its rollback take: the single source of their input types.
import { z } from 'zod';
import { NodeNames } from './nodeNames';
import { S3UrlField } from './importSpec';
import { Minutes, week } from './minutes';
import { retryField } from './retrySpec';

/** A node's component name, as BSS keys its entries. */
export const nodeXnamePattern = /^x\d{1,4}c\d{1,2}s\d{1,2}b\d{1,2}n\d{1,2}$/;

/** Node xnames, as a node set (`x3000c0s[1-4]b0n0`) or a list; BSS keys its entries by them. */
export const NodeSet = NodeNames.superRefine((nodes, ctx) => {
  const bad = nodes.filter((node) => !nodeXnamePattern.test(node));
  if (bad.length) ctx.addIssue({ code: 'custom', message: `not node xnames (x<cabinet>c<chassis>s<slot>b<bmc>n<node>): ${bad.slice(0, 10).join(', ')}${bad.length > 10 ? ` and ${bad.length - 10} more` : ''}` });
});

/** A secret's reference (a key id or secret name): resolved by the initrd, never the secret itself. */
const SecretReference = (what: string) => z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, `a ${what} reference is a name or id (letters, digits, . _ : / -), never the ${what}`);

export const IscsiTarget = z
  .object({
    iqn: z.string().regex(/^iqn\.\d{4}-\d{2}\.[^\s,@]+$/, 'not an iSCSI qualified name (iqn.YYYY-MM.authority[:name])'),
    address: z.string().regex(/^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:]+\]$/, 'not a host name, IPv4 address or [IPv6] address'),
    port: z.number().int().min(1).max(65535).default(3260),
  })
  .strict();

/** The boot parameters our iSCSI + LUKS root needs; each is set or replaced when given, left alone otherwise. */
export const IscsiBootSpec = z
  .object({
    /** Every target portal the initrd may log into (one per server portal: multipath). */
    targets: z.array(IscsiTarget).min(1, 'give at least one target').optional(),
    /** The multipath WWID of the exported LUN ("3" + NAA designator), e.g. the SBPS marshal's 36001405<digest[0:25]>. */
    lunWwid: z.string().regex(/^3[0-9a-f]{16,32}$/, 'not a SCSI WWID ("3" followed by 16 to 32 lower-case hex digits)').optional(),
    /** The node's CHAP credentials, by reference: what the attach phase pushes and the initrd waits for. */
    chapRef: SecretReference('CHAP').optional(),
    luksKeyRef: SecretReference('key').optional(),
  })
  .strict();
export type IscsiBootSpec = z.output<typeof IscsiBootSpec>;

export const MissingHostPolicy = z.enum(['refuse', 'create']);
export type MissingHostPolicy = z.output<typeof MissingHostPolicy>;

/** The rollout's fields; the lifecycle fills `imageId` and `iscsi` from its earlier phases. */
export const UpdateBootParametersFields = z
  .object({
    nodes: NodeSet,
    /** The image to boot: an IMS image id (its manifest link is read), or the manifest's S3 path. */
    imageId: z.string().min(1).optional(),
    manifestPath: S3UrlField.optional(),
    iscsi: IscsiBootSpec.optional(),
    /** Nodes changed first, then validated (and approved) before the rest. */
    canarySize: z.number().int().min(1).default(1),
    batchSize: z.number().int().min(1).max(2000).default(100),
    /** Batches in flight at once after the canary. */
    concurrency: z.number().int().min(1).max(32).default(4),
    approval: z
      .object({ required: z.boolean(), timeoutMinutes: Minutes(week, 'a week').default(24 * 60) })
      .strict()
      .default({ required: false, timeoutMinutes: 24 * 60 }),
    /** Runs the `validateInitiators` workflow on the canary; `options` are passed on to it as they are. */
    validate: z
      .object({ timeoutMinutes: Minutes(week, 'a week').default(60), options: z.record(z.string(), z.unknown()).default({}) })
      .strict()
      .optional(),
    /** A node with no BSS entry: refuse the whole rollout (an unknown xname?), or create its entry from `baseParams`. */
    missingHosts: MissingHostPolicy.default('refuse'),
    baseParams: z.string().optional(),
    /** Snapshot and plan (the per-node diff), change nothing in BSS. */
    dryRun: z.boolean().default(false),
    ...retryField,
  })
  .strict();

/** missingHosts "create" needs the params new entries start from. */
export const baseParamsRule: [(spec: { missingHosts?: string; baseParams?: string }) => boolean, { message: string; path: string[] }] = [
  (spec: { missingHosts?: string; baseParams?: string }) => spec.missingHosts !== 'create' || spec.baseParams !== undefined,
  { message: 'missingHosts "create" needs baseParams: the params new entries start from', path: ['baseParams'] },
];

export const UpdateBootParametersSpec = UpdateBootParametersFields.refine((spec) => Boolean(spec.imageId) !== Boolean(spec.manifestPath), {
  message: 'give exactly one of imageId or manifestPath',
  path: ['imageId'],
}).refine(...baseParamsRule);
export type UpdateBootParametersSpec = z.input<typeof UpdateBootParametersSpec>;
export type ParsedUpdateBootParametersSpec = z.output<typeof UpdateBootParametersSpec>;

export const RollbackBootParametersSpec = z
  .object({
    changeId: z.string().min(1, 'change id is empty').max(1000, 'a change id (a workflow id) is at most 1000 characters'),
    /** Only these nodes; every node of the snapshot when absent. */
    nodes: NodeSet.optional(),
    ...retryField,
  })
  .strict();
export type RollbackBootParametersSpec = z.input<typeof RollbackBootParametersSpec>;

/** What an operator sends with `approve` or `reject` (signal or update). */
export const ApprovalDecision = z
  .object({ who: z.string().trim().min(1, 'say who decides'), reason: z.string().trim().min(1, 'say why') })
  .strict();
export type ApprovalDecision = z.output<typeof ApprovalDecision>;
