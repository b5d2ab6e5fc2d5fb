import { randomBytes, randomUUID } from 'node:crypto';
import { preferredSbpsLun } from '../../../lib/exportLayout';
import { lunIdentity, type LunIdentity } from '../../../lib/lunIdentity';

/**
 * A random artifact's identity whose NAA designator has no zero byte (iscsi-inq prints binary
 * designators with printf("%s"), so a zero byte cuts it short) and whose preferred sbps LUN is not
 * one of `avoidLuns`.
 */
export function printableNaaIdentity(avoidLuns: number[] = []): LunIdentity {
  for (;;) {
    const identity = lunIdentity({ linkPath: `s3://boot-images/${randomUUID()}/rootfs`, linkEtag: `${randomBytes(16).toString('hex')}-2` });
    if (!/^(..)*00/.test(identity.wwid.slice(1)) && !avoidLuns.includes(preferredSbpsLun(identity))) return identity;
  }
}
