// One interface for the iSCSI target software on a server: LIO (targetcli) in production, tgt (tgtadm)
// in the dev stack and tests. A driver acts on the server it runs on (or reaches through its command runner).
import type { ExportLayout, ExportPlacement } from '../../lib/exportLayout';
import type { LunIdentity } from '../../lib/lunIdentity';

/** References into the server's secret store: only names travel through Temporal, never the values. */
export interface ChapRefs {
  userRef: string;
  secretRef: string;
  /** Mutual CHAP: the credentials the target presents to the initiator. */
  mutual?: { userRef: string; secretRef: string };
}

export interface Portal {
  address: string;
  port: number;
}

export interface ExportSpec {
  identity: LunIdentity;
  /** sbps: the marshal's shared open target; per-image: a target of this image's own. */
  placement: ExportPlacement;
  /** The staged, verified local copy of the artifact (see staging.ts). */
  backingFile: string;
  sizeBytes: number;
  /** One ACL per initiator IQN, or accept any initiator (LIO `generate_node_acls`, tgt `ALL`). */
  initiators: string[] | 'generate-node-acls';
  chap?: ChapRefs;
  portals: Portal[];
}

export interface ExportResult {
  server: string;
  layout: ExportLayout;
  iqn: string;
  lun: number;
  wwid: string;
  serial: string;
  portals: Portal[];
  /** True when this call created the LUN; false when a LUN with the same identity already existed. */
  created: boolean;
  /** What this call changed (LUN, ACLs, CHAP, portals...); empty when the export was already complete. */
  changes: string[];
}

export interface ExportedLun {
  iqn: string;
  lun: number;
  serial: string;
  backingFile: string | null;
  sizeBytes: number;
  readonly: boolean;
}

export interface RemoveRequest {
  identity: LunIdentity;
  /** The image's own target (per-image layout): removed even if a failed export left it without its LUN. */
  targetIqn?: string;
}

export interface RemoveResult {
  server: string;
  removed: boolean;
  changes: string[];
}

export interface RestoreResult {
  server: string;
  /** What the restore re-created: one line per target or LUN. */
  restored: string[];
  /** Exports that could not be re-created, each with the reason (a missing staged file, say). */
  failed: string[];
}

/** How a long driver operation is stopped: an aborted signal kills the running tool and leaves the queue. */
export interface OperationContext {
  signal?: AbortSignal;
}

export interface TargetDriver {
  readonly kind: 'tgt' | 'lio';
  /** Idempotent: an existing LUN with the same identity is kept and reported with `created: false`. */
  ensureExport(spec: ExportSpec, context?: OperationContext): Promise<ExportResult>;
  /** Removes the LUN carrying this identity wherever it is, and its per-image target; absent is not an error. */
  removeExport(request: RemoveRequest, context?: OperationContext): Promise<RemoveResult>;
  listExports(context?: OperationContext): Promise<ExportedLun[]>;
  /** Persists the running configuration so it survives a restart of the target service. */
  saveConfig(context?: OperationContext): Promise<{ saved: boolean; path?: string }>;
  /** Brings the target service back to its saved configuration: every export at its target, LUN and WWID. */
  restoreConfig(context?: OperationContext): Promise<RestoreResult>;
}
