// checkInitiators: a batch of nodes checked from their side against every iSCSI server, on the orchestrator
// worker. Concurrency is bounded per server across every activity of the worker process; heartbeats carry
// {nodesDone, nodesTotal}. CHAP and the LUKS key arrive as references and are resolved here only.
import { Context } from '@temporalio/activity';
import { nodeSshRunners } from '../node/ssh';
import { fileSecretResolver, type SecretResolver } from '../export/secrets';
import { createFileKeyStore } from '../keys/fileKeyStore';
import { withKeyFile, type KeyStore } from '../keys/keyStore';
import { privateDirectory } from '../keys/secretFile';
import { progressHeartbeats } from '../support/heartbeats';
import { currentContext } from '../support/progress';
import { parseInput } from '../../lib/parseInput';
import type { InitiatorDriver, KeyAccess, NodeCheckContext } from './driver';
import { CheckInitiatorsInput, type InitiatorDriverKind } from './inputs';
import { createLibiscsiDriver } from './libiscsiDriver';
import { keyedSemaphores, semaphore } from './limiter';
import { createOpenIscsiDriver } from './openIscsiDriver';
import type { NodeVerdict } from './verdict';
import { readSettings, type Environment } from '../../settings/load';

export interface InitiatorActivitySettings {
  drivers: Partial<Record<InitiatorDriverKind, InitiatorDriver>>;
  /** CHAP user and secret by reference. */
  secrets: SecretResolver;
  keyStore: KeyStore;
  /** Private scratch space (made 0700): key files while cryptsetup or qemu reads them. */
  workDir: string;
  /** Checks in flight against one iSCSI server, across all activities of this worker. */
  perServerConcurrency: number;
  /** Nodes in flight within one activity. */
  nodeConcurrency: number;
}

export interface CheckInitiatorsResult {
  verdicts: NodeVerdict[];
  passed: number;
  failed: number;
  ms: number;
}

export function initiatorActivities(settings: InitiatorActivitySettings) {
  const onServer = keyedSemaphores(settings.perServerConcurrency);
  const workDir = privateDirectory(settings.workDir);

  return {
    async checkInitiators(raw: CheckInitiatorsInput): Promise<CheckInitiatorsResult> {
      const started = Date.now();
      const input = parseInput(CheckInitiatorsInput, raw, 'checkInitiators input');
      const driver = settings.drivers[input.driver];
      if (!driver) throw new Error(`this worker has no ${input.driver} initiator driver`);
      await workDir();
      const context: NodeCheckContext = {
        targets: input.targets,
        expected: input.expected,
        checks: input.checks,
        chap: input.chap && { user: await settings.secrets.resolve(input.chap.userRef), password: await settings.secrets.resolve(input.chap.secretRef) },
        key: input.luksKeyId ? await keyAccess(settings, input.luksKeyId) : undefined,
        onServer,
      };

      const activity = currentContext();
      const heartbeats = activity && progressHeartbeats<{ nodesDone: number; nodesTotal: number }>(activity, { minIntervalMs: 1_000 });
      const inFlight = semaphore(settings.nodeConcurrency);
      let nodesDone = 0;
      try {
        const verdicts = await Promise.all(
          input.nodes.map((node) =>
            inFlight(async () => {
              cancelled(activity);
              const verdict = await driver.checkNode(node, context);
              heartbeats?.report({ nodesDone: ++nodesDone, nodesTotal: input.nodes.length });
              return verdict;
            }),
          ),
        );
        const failed = verdicts.filter((v) => !v.ok).length;
        return { verdicts, passed: verdicts.length - failed, failed, ms: Date.now() - started };
      } finally {
        heartbeats?.stop();
      }
    },
  };
}

/** The orchestrator's store of the nodes' CHAP secrets (the validation logs in with them, attach pushes them). */
export const nodeSecretsFromEnv = (env: Environment = process.env): SecretResolver =>
  fileSecretResolver(readSettings(['initiator'], env).initiator.INITIATOR_SECRETS_DIR);

/** The activities from the orchestrator worker's environment (activities/initiator/README.md). */
export function createInitiatorActivities(env: Environment = process.env) {
  const { initiator: settings, luks } = readSettings(['initiator', 'luks'], env);
  const workDir = settings.INITIATOR_WORK_DIR;
  return initiatorActivities({
    drivers: {
      libiscsi: createLibiscsiDriver({ secretsDir: workDir }),
      'open-iscsi': createOpenIscsiDriver({ runnerFor: nodeSshRunners(env) }),
    },
    secrets: nodeSecretsFromEnv(env),
    keyStore: createFileKeyStore(luks.LUKS_KEY_DIR),
    workDir,
    perServerConcurrency: settings.INITIATOR_PER_SERVER_CONCURRENCY,
    nodeConcurrency: settings.INITIATOR_NODE_CONCURRENCY,
  });
}

export type InitiatorActivities = ReturnType<typeof initiatorActivities>;

/** The key by reference; its existence is checked now, so a wrong key id fails the batch, not every node. */
async function keyAccess(settings: InitiatorActivitySettings, keyId: string): Promise<KeyAccess> {
  (await settings.keyStore.getKey(keyId)).fill(0);
  return {
    keyId,
    withFile: (use) => withKeyFile(settings.keyStore, keyId, settings.workDir, use),
    async withBytes(use) {
      const key = await settings.keyStore.getKey(keyId);
      try {
        return await use(key);
      } finally {
        key.fill(0);
      }
    },
  };
}

function cancelled(activity: Context | undefined) {
  if (activity?.cancellationSignal.aborted) throw activity.cancellationSignal.reason ?? new Error('cancelled');
}
