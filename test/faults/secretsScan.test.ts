// DESIGN §6: secrets never enter workflow history, logs or errors. A whole lifecycle with mutual
// CHAP and LUKS (import, encrypt, export on both servers, validation from two nodes with a wrong-CHAP
// login too, a BSS canary), then every history of the run as `temporal workflow show -o json` prints
// it, every log of the stack and of the test's worker, the S3 objects written meanwhile (the validation
// report among them) are scanned for the CHAP passwords, the LUKS key (raw, hex, base64) and the S3
// secret key. The scanner is first shown to find a secret planted in a real history.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsmClient } from '../../activities/csm/client';
import { devStack, stateDir, stackEnvironment } from '../../dev/config';
import { makeSampleImage, type SampleImage } from '../../dev/sampleImage';
import { defaultTargetPrefix } from '../../lib/exportLayout';
import { iqnLabelOf } from '../../lib/iscsiNames';
import { imageLifecycle } from '../../workflows/imageLifecycle';
import { importImage } from '../../workflows/importImage';
import { removeDevStackExports } from '../helpers/exports';
import { keyForms } from '../helpers/history';
import { s3 } from '../helpers/images';
import { filesUnder, findSecrets, historiesOf, objectsSince, textForms, type Secret } from '../helpers/secretScan';
import { connectClient, uniqueId } from '../helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../helpers/workerProcess';

const secretsDir = path.join(stateDir, 'secrets');
const run = uniqueId('secrets');
const chap = {
  user: `node-${randomBytes(4).toString('hex')}`,
  password: randomBytes(12).toString('base64url'),
  targetUser: `target-${randomBytes(4).toString('hex')}`,
  targetPassword: randomBytes(12).toString('base64url'),
};
const refs = { user: `${run}/user`, password: `${run}/password`, targetUser: `${run}/target-user`, targetPassword: `${run}/target-password` };

function writeSecret(ref: string, value: string) {
  fs.mkdirSync(path.dirname(path.join(secretsDir, ref)), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(secretsDir, ref), value, { mode: 0o600 });
}

let client: Client;
let worker: WorkerProcess;
let sample: SampleImage;
const taskQueue = uniqueId('secrets');
const exported: { linkPath: string; linkEtag: string; targetIqn?: string }[] = [];

beforeAll(async () => {
  client = await connectClient();
  writeSecret(refs.user, chap.user);
  writeSecret(refs.password, chap.password);
  writeSecret(refs.targetUser, chap.targetUser);
  writeSecret(refs.targetPassword, chap.targetPassword);
  // The validation logs in from this worker with the nodes' CHAP secret, from the same store as the agents'.
  worker = await startWorkerProcess(taskQueue, { INITIATOR_SECRETS_DIR: secretsDir, WORKER_HOST_ID: uniqueId('secrets-host') });
  sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-')), { payloadMiB: 2, label: run });
});
afterAll(async () => {
  await worker?.kill();
  await removeDevStackExports(exported);
  fs.rmSync(path.join(secretsDir, run), { recursive: true, force: true });
  await client?.connection.close();
});

const s3SecretKey: Secret = { name: 'S3 secret key', forms: textForms(devStack.s3.secretAccessKey) };

describe('secrets scan', () => {
  it('finds a secret planted in a workflow history, where the CLI prints payloads base64-encoded', async () => {
    const workflowId = `${run}-planted`;
    const planted = randomBytes(16);
    // An image name is history input: a name made of the secret's hex puts it there for the scanner to find.
    await client.workflow.execute(importImage, { taskQueue, workflowId, args: [{ name: planted.toString('hex'), rootfs: { file: '/nonexistent' } }] }).catch(() => undefined);
    const findings = findSecrets([{ name: 'planted key', forms: keyForms(planted) }, s3SecretKey], await historiesOf(client, workflowId));
    expect(findings.map((f) => [f.secret, f.source])).toEqual([['planted key', `history of ${workflowId}`]]);
  });

  it('after a lifecycle with mutual CHAP and LUKS, finds no secret in histories, logs, errors, S3 objects or the validation report', async () => {
    const since = new Date(Date.now() - 2000);
    const cabinet = randomInt(1000, 9999);
    const canary = `x${cabinet}c0s1b0n0`;
    const csm = new CsmClient(devStack.csm);
    await csm.request('POST', '/apis/bss/boot/v1/bootparameters', { hosts: [canary], kernel: 's3://boot-images/old/kernel', initrd: 's3://boot-images/old/initrd', params: 'console=ttyS0,115200 quiet' });
    const name = uniqueId('secrets-image');
    const initiator = { driver: 'libiscsi', iqnPattern: 'iqn.2026-11.test.secrets:{node}' };
    const summary = await client.workflow.execute(imageLifecycle, {
      taskQueue,
      workflowId: run,
      args: [
        {
          name,
          import: { rootfs: { file: sample.rootfs }, kernel: { file: sample.kernel }, initrd: { file: sample.initrd } },
          encrypt: { sampleSectors: 16 },
          export: {
            servers: devStack.iscsiServers.map((s) => ({ name: s.name })),
            initiators: { nodes: 'nid[001-002]', iqnPattern: initiator.iqnPattern },
            chap: { userRef: refs.user, secretRef: refs.password, mutual: { userRef: refs.targetUser, secretRef: refs.targetPassword } },
          },
          validate: { nodes: 'nid[001-002]', initiator, chap: { userRef: refs.user, secretRef: refs.password } },
          bootParameters: { nodes: canary, canarySize: 1 },
        },
      ],
    });
    const encrypted = summary.phases.encrypt!.artifact;
    exported.push({ linkPath: encrypted.link.path, linkEtag: encrypted.link.etag!, targetIqn: `${defaultTargetPrefix}${iqnLabelOf(name)}` });
    expect(summary.phases.validate).toMatchObject({ nodes: 2, passed: 2, failed: 0 });
    expect(summary.phases.export!.layout).toBe('per-image');

    const luksKey = fs.readFileSync(path.join(stackEnvironment().LUKS_KEY_DIR, `${encrypted.luks.keyId}.key`));
    const secrets: Secret[] = [
      { name: 'CHAP password', forms: textForms(chap.password) },
      { name: 'mutual CHAP password', forms: textForms(chap.targetPassword) },
      { name: 'LUKS key', forms: keyForms(luksKey) },
      s3SecretKey,
    ];
    const histories = await historiesOf(client, run);
    expect(histories.length).toBeGreaterThanOrEqual(6); // the lifecycle and its phases
    const objects = await objectsSince(s3, ['boot-images', 'ims'], since);
    expect(objects.map((o) => o.name)).toContain(`${summary.phases.validate!.report}`);
    const logs = [...filesUnder(path.join(stateDir, 'logs')), { name: 'the test worker\'s log', data: worker.output() }];
    expect(findSecrets(secrets, [...histories, ...objects, ...logs])).toEqual([]);
  });
});
