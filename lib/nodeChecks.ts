// What a node's side check takes and gives, shared by the validation workflow's pure code (lib/validation.ts)
// and the initiator activities: the servers' targets, the expected LUN identity, the nodes and their verdicts.
// Verdicts are compact on purpose: those of thousands of nodes travel through workflow history into the S3 report.

/** One iSCSI server: the target a node must log into there, and its portal. */
export interface ServerTarget {
  /** Short name for reports (the marshal IQN's host part, or address:port). */
  server: string;
  iqn: string;
  address: string;
  port: number;
}

/** What every node must see: the export's identity (lib/lunIdentity.ts) and the artifact's size. */
export interface Expectation {
  serial: string;
  wwid: string;
  sizeBytes: number;
  luks?: {
    /** Absent: any LUKS header will do (the key check still applies). */
    uuid?: string;
    /** sha256 (hex) of the first 4 KiB of plaintext; without it a squashfs superblock is expected there. */
    plaintextSha256?: string;
  };
  /**
   * A file the image must hold (a marker the customize phase wrote): open-iscsi maps the LUN as a node
   * would boot it (dm-crypt read-only, squashfs read-only), reads the file, and unmaps it all.
   */
  content?: { path: string; sha256: string };
}

export interface NodeToCheck {
  node: string;
  /** The IQN the libiscsi driver logs in with; open-iscsi nodes use their own (/etc/iscsi/initiatorname.iscsi). */
  initiatorIqn?: string;
}

export const checkNames = [
  'reachable',
  'discovery',
  'login',
  'chap-enforced',
  'identity',
  'capacity',
  'read',
  'write-refused',
  'multipath',
  'luks-header',
  'luks-key',
  'decrypt-sample',
  'content',
] as const;
export type CheckName = (typeof checkNames)[number];

export interface CheckFailure {
  check: CheckName;
  server?: string;
  message: string;
}

export interface CheckSkip {
  check: CheckName;
  server?: string;
  reason: string;
}

export interface NodeVerdict {
  node: string;
  initiatorIqn?: string;
  ok: boolean;
  /** `server:check`, or `check` for checks of the node as a whole. */
  passed: string[];
  failed: CheckFailure[];
  skipped: CheckSkip[];
  ms: number;
}
