// The boot parameters of our iSCSI + LUKS root: what a rollout sets, and what the validation and the
// attach phase check the nodes against.
import { z } from 'zod';

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
