// Where an image is exported on an iSCSI server, derived from the image alone and never from the order
// of exports, so a target rebuilt or restored presents every image at the same target, LUN and WWID.
//   sbps:      the SBPS marshal's one target per server (`iqn.2023-06.csm.iscsi:<host>`), one LUN per
//              image, open access, as the marshal exports (seed 001).
//   per-image: one target per exported image with its own ACLs and CHAP (seed 003's
//              `stacker lio export -n IMG -W IMG -w nodes`), so no other export can widen or narrow it.
// Pure: workflows import it.
import { marshalTargetIqn, type LunIdentity } from './lunIdentity';

export const exportLayouts = ['sbps', 'per-image'] as const;
export type ExportLayout = (typeof exportLayouts)[number];

/** Prefix of per-image target names (stacker's `wwn_target_prefix`), unless an export names its own. */
export const defaultTargetPrefix = 'iqn.2023-06.csm.iscsi:image.';

/** A per-image target holds one LUN; 1 on every driver (tgtd keeps LUN 0 for its controller). */
export const perImageLun = 1;

/** LUNs of the shared sbps target: 1-255 (peripheral addressing, which every boot loader handles). */
export const sbpsLunRange = { first: 1, last: 255 } as const;

/**
 * The sbps LUN an image asks for, from its digest. Two images whose digests ask for the same number
 * are rare (a few per thousand for ten images); the second then takes the next free number and keeps
 * it, because restores re-create LUNs from the saved state, not from this function.
 */
export function preferredSbpsLun(identity: LunIdentity): number {
  const span = sbpsLunRange.last - sbpsLunRange.first + 1;
  return sbpsLunRange.first + (parseInt(identity.digest.slice(0, 8), 16) % span);
}

/** The preferred LUN, or the next free one after it (wrapping), among `taken`. */
export function sbpsLunFor(identity: LunIdentity, taken: Iterable<number>): number {
  const used = new Set(taken);
  const span = sbpsLunRange.last - sbpsLunRange.first + 1;
  const preferred = preferredSbpsLun(identity);
  for (let step = 0; step < span; step++) {
    const lun = sbpsLunRange.first + ((preferred - sbpsLunRange.first + step) % span);
    if (!used.has(lun)) return lun;
  }
  throw new Error(`every LUN ${sbpsLunRange.first}-${sbpsLunRange.last} of the shared target is taken`);
}

/** What the driver is asked to build: the layout and the target it lives on. */
export type ExportPlacement = { layout: 'sbps' } | { layout: 'per-image'; targetIqn: string };

export const targetIqnOf = (placement: ExportPlacement, server: string): string =>
  placement.layout === 'sbps' ? marshalTargetIqn(server) : placement.targetIqn;

export const lunOf = (placement: ExportPlacement, identity: LunIdentity, taken: Iterable<number>): number =>
  placement.layout === 'sbps' ? sbpsLunFor(identity, taken) : perImageLun;
