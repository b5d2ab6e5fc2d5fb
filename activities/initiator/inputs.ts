// The input of checkInitiators: zod, the single source of its type and error messages. References only:
// CHAP by secret names, the LUKS key by key id; the activity resolves them.
import { z } from 'zod';
import { CheckOptions, ContentCheck } from '../../lib/specs/validateSpec';

const Ref = z.string().min(1);

export const InitiatorDriverKind = z.enum(['libiscsi', 'open-iscsi']);
export type InitiatorDriverKind = z.infer<typeof InitiatorDriverKind>;

export const ServerTargetInput = z.object({
  server: z.string().min(1),
  iqn: z.string().min(1),
  address: z.string().min(1),
  port: z.number().int().min(1).max(65535),
});

export const ExpectationInput = z.object({
  serial: z.string().min(1),
  wwid: z.string().regex(/^3[0-9a-f]{16,32}$/),
  sizeBytes: z.number().int().positive(),
  luks: z.object({ uuid: z.string().min(1).optional(), plaintextSha256: z.string().regex(/^[0-9a-f]{64}$/).optional() }).optional(),
  content: ContentCheck.optional(),
});

export const CheckInitiatorsInput = z.object({
  driver: InitiatorDriverKind,
  nodes: z.array(z.object({ node: z.string().min(1), initiatorIqn: z.string().startsWith('iqn.').optional() })).min(1),
  targets: z.array(ServerTargetInput).min(1),
  expected: ExpectationInput,
  chap: z.object({ userRef: Ref, secretRef: Ref }).optional(),
  luksKeyId: Ref.optional(),
  checks: CheckOptions.prefault({}),
});
export type CheckInitiatorsInput = z.input<typeof CheckInitiatorsInput>;
