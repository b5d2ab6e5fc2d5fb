// What validateInitiators takes: the node set, the exported artifact (its identity is derived from its
// link, lib/lunIdentity.ts), the targets as updateBootParameters passes them (`iscsi`), how nodes log in,
// and the fan-out limits. References only: CHAP by secret names, the LUKS key by key id.
import { z } from 'zod';
import { NodeNames } from './nodeNames';
import { IscsiBootSpec } from './iscsiBootSpec';
import { S3UrlField } from './importSpec';
import { SecretRef } from './exportSpec';
import { retryField } from './retrySpec';

/** CHAP and key references: names a secret store resolves, checked as the export checks them. */
const Ref = SecretRef;


export const InitiatorSpec = z.discriminatedUnion('driver', [
  /** Userspace logins from the worker's host, as each node's IQN: the pattern's `{node}` is the node name. */
  z.object({ driver: z.literal('libiscsi'), iqnPattern: z.string().startsWith('iqn.').includes('{node}', { message: 'the pattern needs {node}' }) }).strict(),
  /** iscsiadm, multipath and cryptsetup on each node over SSH (the worker's SSH settings). */
  z.object({ driver: z.literal('open-iscsi') }).strict(),
]);

const FailureLine = z.object({ batch: z.number().int(), node: z.string(), server: z.string().optional(), check: z.string(), message: z.string() }).strict();
export type FailureLine = z.output<typeof FailureLine>;

/** What a run hands to the next one when it continues as new: the counts and the first failures so far. */
export const ValidationProgress = z
  .object({
    nextBatch: z.number().int().min(0),
    sizeBytes: z.number().int().positive(),
    passed: z.number().int().min(0),
    failed: z.number().int().min(0),
    firstFailures: z.array(FailureLine),
    skipped: z.array(z.object({ check: z.string(), reason: z.string() }).strict()),
    runs: z.number().int().min(1),
    startedAt: z.string(),
  })
  .strict();
export type ValidationProgress = z.output<typeof ValidationProgress>;

/** A file the booted image must hold, and its sha256. */
export const ContentCheck = z
  .object({
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._/-]+$/, 'an absolute path in the image')
      .refine((p) => !p.split('/').includes('..'), 'an absolute path in the image, without ".." segments'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex'),
  })
  .strict();

/** Which checks run beyond the identity ones; the spec's field and the activity's input alike. */
export const CheckOptions = z
  .object({
    /** Log in once more with a wrong CHAP secret and expect a refusal (libiscsi driver). */
    wrongChap: z.boolean().default(true),
    writeRefused: z.boolean().default(true),
    /** Decrypt the first sectors and compare them with the expected plaintext. */
    decryptSample: z.boolean().default(true),
    /** open-iscsi: the multipath map for the WWID must exist with a path per server. */
    multipath: z.boolean().default(true),
  })
  .strict();
export type CheckOptions = z.output<typeof CheckOptions>;

export const ValidateInitiatorsSpec = z
  .object({
    nodes: NodeNames,
    imageId: z.string().min(1).optional(),
    manifestPath: S3UrlField.optional(),
    /** The exported artifact's manifest link: the LUN identity every node must see. */
    rootfs: z.object({ path: S3UrlField, etag: z.string().min(1) }).strict(),
    /** Targets (one per server portal), the expected WWID and the LUKS key reference. */
    iscsi: IscsiBootSpec.refine((iscsi) => iscsi.targets?.length, { message: 'give iscsi.targets: the servers to check', path: ['targets'] }),
    initiator: InitiatorSpec,
    chap: z.object({ userRef: Ref, secretRef: Ref }).strict().optional(),
    /** Expected LUN capacity; by default the size S3 reports for rootfs.path. */
    sizeBytes: z.number().int().positive().optional(),
    /** The artifact is a LUKS container (implied by iscsi.luksKeyRef): its UUID, the key (default iscsi.luksKeyRef), the sha256 of the plaintext's first 4 KiB. */
    luks: z
      .object({ uuid: z.string().min(1).optional(), keyId: Ref.optional(), plaintextSha256: z.string().regex(/^[0-9a-f]{64}$/).optional() })
      .strict()
      .optional(),
    /** open-iscsi: a file the booted image must hold, read through dm-crypt and the squashfs as a node mounts them. */
    content: ContentCheck.optional(),
    checks: CheckOptions.prefault({}),
    /** Nodes per child workflow. */
    batchSize: z.number().int().min(1).max(2000).default(500),
    /** Nodes per checkInitiators activity. */
    chunkSize: z.number().int().min(1).max(500).default(25),
    batchesInFlight: z.number().int().min(1).max(32).default(4),
    chunksInFlight: z.number().int().min(1).max(16).default(2),
    /** Continue as new once this run's history has this many events (or when Temporal suggests it). */
    continueAsNewAfterEvents: z.number().int().min(20).max(40_000).default(10_000),
    /** Failures kept in the result and the error message; all of them are in the S3 report. */
    firstFailures: z.number().int().min(1).max(100).default(10),
    /** The report goes to <reportPrefix>/<workflow id>/. */
    reportPrefix: S3UrlField.default('s3://ims/validation-reports'),
    /** Set by the workflow itself when it continues as new. */
    resume: ValidationProgress.optional(),
    ...retryField,
  })
  .strict();
export type ValidateInitiatorsSpec = z.input<typeof ValidateInitiatorsSpec>;
export type ParsedValidateInitiatorsSpec = z.output<typeof ValidateInitiatorsSpec>;

/** What a caller may start a validation with: `resume` is the workflow's own, carried over by continue-as-new. */
export const CallerValidateInitiatorsSpec = ValidateInitiatorsSpec.extend({
  resume: z.undefined({ error: 'set by the workflow itself when it continues as new; not accepted from callers' }).optional(),
});

/** What a caller gives to validate an export that the lifecycle or a rollout names (image, LUN identity, targets, retries). */
export const ValidationOfExport = ValidateInitiatorsSpec.omit({ imageId: true, manifestPath: true, rootfs: true, iscsi: true, resume: true, retry: true });

/** A rollout's canary validation: the nodes are the canary's too. */
export const CanaryValidationOptions = ValidationOfExport.omit({ nodes: true });
