// What a boot parameters rollout and its rollback take: the single source of their input types.
import { z } from 'zod';
import { NodeNames } from './nodeNames';
import { S3UrlField } from './importSpec';
import { Minutes, week } from './minutes';
import { retryField } from './retrySpec';
import { IscsiBootSpec } from './iscsiBootSpec';
import { CanaryValidationOptions } from './validateSpec';

/** A node's component name, as BSS keys its entries. */
export const nodeXnamePattern = /^x\d{1,4}c\d{1,2}s\d{1,2}b\d{1,2}n\d{1,2}$/;

/** Node xnames, as a node set (`x3000c0s[1-4]b0n0`) or a list; BSS keys its entries by them. */
export const NodeSet = NodeNames.superRefine((nodes, ctx) => {
  const bad = nodes.filter((node) => !nodeXnamePattern.test(node));
  if (bad.length) ctx.addIssue({ code: 'custom', message: `not node xnames (x<cabinet>c<chassis>s<slot>b<bmc>n<node>): ${bad.slice(0, 10).join(', ')}${bad.length > 10 ? ` and ${bad.length - 10} more` : ''}` });
});

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
    /** Runs the `validateInitiators` workflow on the canary with these options (how nodes log in, which checks); the rollout gives it the nodes and the image. */
    validate: z
      .object({ timeoutMinutes: Minutes(week, 'a week').default(60), options: CanaryValidationOptions })
      .strict()
      .optional(),
    /** A node with no BSS entry: refuse the whole rollout (an unknown xname?), or create its entry from `baseParams`. */
    missingHosts: MissingHostPolicy.default('refuse'),
    baseParams: z.string().optional(),
    /** Nodes another running rollout holds: wait up to this long for them (checking every minute, or every tenth of the wait) instead of being refused at once. */
    waitForHeldNodesMinutes: Minutes(week, 'a week').optional(),
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
