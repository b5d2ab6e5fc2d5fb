// attachNodes on the dev stack's Temporal, with the real activity. Each "node" is a private mount namespace
// on this host (unshare): its own /proc/cmdline (the boot parameters it booted with), its own /etc (the
// bootimg initramfs's marker file, or not) and its own /dev/shm (where pushed secrets land). One node waits
// for this image, one waits for another image, one still runs its old system: the first gets exactly its
// key and CHAP credentials, the other two nothing, each with the reason in the result and the failure,
// and neither secret appears in the workflow's history.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { localRunner, type CommandRunner } from '../../activities/export/commandRunner';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createFileKeyStore } from '../../activities/keys/fileKeyStore';
import { nodeAttachActivities } from '../../activities/node/activities';
import { keyForms, payloadText } from '../helpers/history';
import { uniqueId } from '../helpers/temporal';
import { withTestWorker } from '../helpers/testWorker';

const require = createRequire(import.meta.url);
const workflowsPath = require.resolve('../../workflows/index.ts');
const wwid = `36001405${randomBytes(12).toString('hex').slice(0, 25)}`;
const otherWwid = `36001405${randomBytes(12).toString('hex').slice(0, 25)}`;

interface FakeNode {
  cmdline: string;
  inInitramfs: boolean;
  shm: string;
}

/** Runs each command in a mount namespace that shows the node's command line, /etc and /dev/shm. */
function namespaceRunner(dir: string, node: FakeNode): CommandRunner {
  fs.mkdirSync(path.join(dir, 'etc/bootimg'), { recursive: true });
  if (node.inInitramfs) fs.writeFileSync(path.join(dir, 'etc/bootimg/modules'), 'dm_crypt\n');
  fs.writeFileSync(path.join(dir, 'cmdline'), `${node.cmdline}\n`);
  fs.mkdirSync(node.shm, { recursive: true });
  const setup = `mount --bind ${dir}/cmdline /proc/cmdline && mount --bind ${dir}/etc /etc && mount --bind ${node.shm} /dev/shm && exec "$@"`;
  const local = localRunner();
  return { where: path.basename(dir), run: (argv, options) => local.run(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', setup, 'sh', ...argv], options) };
}

describe('attachNodes', () => {
  it('pushes the key and the CHAP credentials only to a node waiting for this image, and says why the others got nothing', async () => {
    const root = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'attach-nodes-'));
    const keyStore = createFileKeyStore(path.join(root, 'keys'));
    const { keyId } = await keyStore.createKey();
    const key = await keyStore.getKey(keyId);
    const secretsDir = path.join(root, 'secrets');
    fs.mkdirSync(path.join(secretsDir, 'chap'), { recursive: true, mode: 0o700 });
    const chap = { user: 'node-chap-user', password: randomBytes(12).toString('base64url') };
    fs.writeFileSync(path.join(secretsDir, 'chap/user'), chap.user, { mode: 0o600 });
    fs.writeFileSync(path.join(secretsDir, 'chap/password'), chap.password, { mode: 0o600 });

    const params = (lun: string) => `console=ttyS0 bootimg.lun.wwid=${lun} bootimg.luks.key=${keyId} bootimg.iscsi.chap=chap/node`;
    const nodes: Record<string, FakeNode> = {
      x1000c0s1b0n0: { cmdline: params(wwid), inInitramfs: true, shm: path.join(root, 'shm-1') },
      x1000c0s2b0n0: { cmdline: params(otherWwid), inInitramfs: true, shm: path.join(root, 'shm-2') },
      x1000c0s3b0n0: { cmdline: params(wwid), inInitramfs: false, shm: path.join(root, 'shm-3') },
    };
    const activities = nodeAttachActivities({
      runnerFor: (node) => namespaceRunner(path.join(root, node), nodes[node]),
      keyStore,
      secrets: fileSecretResolver(secretsDir),
      pollIntervalMs: 500,
    });

    await withTestWorker({ workflowsPath, activities }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('attach');
      const failure = await client.workflow
        .execute('attachNodes', {
          taskQueue,
          workflowId,
          args: [{ nodes: 'x1000c0s[1-3]b0n0', iscsi: { lunWwid: wwid, luksKeyRef: keyId, chapRef: 'chap/node' }, chap: { userRef: 'chap/user', secretRef: 'chap/password' }, waitSeconds: 10, chunkSize: 2 }],
        })
        .then(() => undefined, (error: unknown) => error);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const cause = (failure as WorkflowFailedError).cause as Error & { type?: string; details?: unknown[] };
      expect(cause.type).toBe('NodesNotAttached');
      expect(cause.message).toMatch(/^2 of 3 node\(s\) did not get their secrets: /);
      expect(cause.message).toContain(`x1000c0s2b0n0: its initramfs waits for another image: bootimg.lun.wwid=${otherWwid} (expected ${wwid}); reboot it`);
      expect(cause.message).toContain('x1000c0s3b0n0: not waiting in the bootimg initramfs within 10 s: answers SSH from another system');
      expect(cause.details?.[0]).toMatchObject({ nodes: 3, attached: 1, failed: 2 });

      expect(fs.readFileSync(path.join(nodes.x1000c0s1b0n0.shm, keyId))).toEqual(key);
      expect(fs.readFileSync(path.join(nodes.x1000c0s1b0n0.shm, 'chap/node'), 'utf8')).toBe(`username=${chap.user}\npassword=${chap.password}\n`);
      expect(fs.readdirSync(nodes.x1000c0s2b0n0.shm)).toEqual([]);
      expect(fs.readdirSync(nodes.x1000c0s3b0n0.shm)).toEqual([]);

      // Every node's outcome is in the history; no secret is, in any encoding.
      const history = payloadText(await client.workflow.getHandle(workflowId).fetchHistory());
      expect(history).toContain('x1000c0s3b0n0');
      expect(history).toContain(keyId);
      for (const secret of [chap.password, ...keyForms(key)]) expect(history.includes(secret), `secret found in history as ${secret.slice(0, 6)}…`).toBe(false);
    });
  });
});
