// One interface for checking, from a compute node's side, that it can reach and open an exported image:
// libiscsi in userspace (dev stack, tests, and reachability checks from the orchestrator's host) and
// open-iscsi over SSH on the nodes themselves (production). A driver checks one node against every server.
import type { CheckFailure, CheckSkip, Expectation, NodeToCheck, NodeVerdict, ServerTarget } from '../../lib/nodeChecks';
import type { CheckOptions } from '../../lib/specs/validateSpec';

export type { CheckFailure, CheckSkip, Expectation, NodeToCheck, NodeVerdict, ServerTarget };

export type { CheckOptions };

/** The LUKS key, inside the activity only: as a 0600 file wiped afterwards, or as bytes zeroed afterwards. */
export interface KeyAccess {
  keyId: string;
  withFile<T>(use: (file: string) => Promise<T>): Promise<T>;
  withBytes<T>(use: (key: Buffer) => Promise<T>): Promise<T>;
}

/** What a driver gets for a batch of nodes; secrets are values here, resolved from references by the activity. */
export interface NodeCheckContext {
  targets: ServerTarget[];
  expected: Expectation;
  checks: CheckOptions;
  chap?: { user: string; password: string };
  key?: KeyAccess;
  /** Runs `work` in one of the server's slots: the bound on concurrent checks against one iSCSI server. */
  onServer<T>(server: string, work: () => Promise<T>): Promise<T>;
}

export interface InitiatorDriver {
  readonly kind: 'libiscsi' | 'open-iscsi';
  /** Every check on every server; a failing check is a verdict, not an exception. Throws only on bad settings. */
  checkNode(node: NodeToCheck, context: NodeCheckContext): Promise<NodeVerdict>;
}
