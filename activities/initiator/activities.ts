// checkInitiators: a batch of nodes checked from their side against every iSCSI server, on the orchestrator
// worker. Concurrency is bounded per server across every activity of the worker process; heartbeats carry
// {nodesDone, nodesTotal}. CHAP and the LUKS key arrive as references and are resolved here only.
import { Context } from '@temporalio/activity';
import { nodeSshRunners } from '../node/ssh';
import { fileSecretResolver, type SecretResolver } from '../export/secrets';
import { createFileKeyStore } from '../keys/fileKeyStore';
import { withKeyFile, type KeyStore } from '../keys/keyStore';
import { ensurePrivateDirectory } from '../keys/secretFile';
import { progressHeartbeats } from '../s3/heartbeats';
import { currentContext } from '../support/progress';
import { parseInput } from '../../lib/parseInput';
import type { InitiatorDriver, KeyAccess, NodeCheckContext } from './driver';
import { CheckInitiatorsInput, type InitiatorDriverKind } from './inputs';
import { createLibiscsiDriver } from './libiscsiDriver';
import { keyedSemaphores, semaphore } from './limiter';
import { createOpenIscsiDriver } from './openIscsiDriver';
import type { NodeVerdict } from './verdict';

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
  let ready: Promise<void> | undefined;

  return {
    async checkInitiators(raw: CheckInitiatorsInput): Promise<CheckInitiatorsResult> {
      const started = Date.now();
      const input = parseInput(CheckInitiatorsInput, raw, 'checkInitiators input');
      const driver = settings.drivers[input.driver];
      if (!driver) throw new Error(`this worker has no ${input.driver} initiator driver`);
      await (ready ??= ensurePrivateDirectory(settings.workDir));
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
export const nodeSecretsFromEnv = (env: NodeJS.ProcessEnv = process.env): SecretResolver =>
  fileSecretResolver(env.INITIATOR_SECRETS_DIR ?? '/etc/boot-image-orchestrator/secrets');

/** The activities from the orchestrator worker's environment (activities/initiator/README.md). */
export function createInitiatorActivities(env: NodeJS.ProcessEnv = process.env) {
  const workDir = env.INITIATOR_WORK_DIR ?? '/var/lib/boot-image-orchestrator/initiator';
  return initiatorActivities({
    drivers: {
      libiscsi: createLibiscsiDriver({ secretsDir: workDir }),
      'open-iscsi': createOpenIscsiDriver({ runnerFor: nodeSshRunners(env) }),
    },
    secrets: nodeSecretsFromEnv(env),
    keyStore: createFileKeyStore(env.LUKS_KEY_DIR ?? '/etc/boot-image-orchestrator/luks-keys'),
    workDir,
    perServerConcurrency: positiveInteger(env, 'INITIATOR_PER_SERVER_CONCURRENCY', 8),
    nodeConcurrency: positiveInteger(env, 'INITIATOR_NODE_CONCURRENCY', 32),
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

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = Number(env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not ${env[name]}`);
  return value;
}
