// The identity of an exported boot image, derived exactly as HPE's SBPS marshal derives it
// (DESIGN §4), so LUNs we create and LUNs the marshal creates for the same artifact agree.
// Pure: workflows import it (the SHA-224 is plain TypeScript).
import { sha224Hex } from './sha224';

/** The rootfs artifact's manifest link: `link.path` (s3://...) and `link.etag` (as S3 reports it, unquoted). */
export interface ArtifactLink {
  linkPath: string;
  linkEtag: string;
}

export interface LunIdentity extends ArtifactLink {
  /** sha224("<link.path>|<link.etag>"), hex. */
  digest: string;
  /** LIO backstore name, and the SCSI product id (LIO exports the backstore name as the model). */
  backstoreName: string;
  /** LIO fileio `wwn`: the SCSI unit serial number (VPD page 0x80). */
  serial: string;
  /** What multipath/udev report as the WWID: "3" + the NAA IEEE Registered Extended designator (VPD 0x83). */
  wwid: string;
}

/** LIO's NAA designator: type 6, OUI 00:14:05 (Linux-IO), then the first 25 hex digits of the unit serial. */
export const lioNaaPrefix = '6001405';

export function lunIdentity(link: ArtifactLink): LunIdentity {
  if (!link.linkPath) throw new Error('lunIdentity: link.path is empty');
  if (!link.linkEtag) throw new Error(`lunIdentity: link.etag is empty for ${link.linkPath}`);
  const digest = sha224Hex(`${link.linkPath}|${link.linkEtag}`);
  return {
    linkPath: link.linkPath,
    linkEtag: link.linkEtag,
    digest,
    backstoreName: digest.slice(0, 15),
    serial: digest.slice(0, 31),
    wwid: `3${lioNaaPrefix}${digest.slice(0, 25)}`,
  };
}

/** The marshal's one target per server. */
export const marshalTargetIqn = (hostname: string): string => `iqn.2023-06.csm.iscsi:${hostname}`;
export const marshalTpgTag = 1;

