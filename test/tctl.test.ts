// Every tctl line of the README, run as written (bash, the tctl setup installs) against the dev stack:
// a start of each workflow type, the rollout's status query, its approve signal, show and observe.
// Only what names this machine's things is substituted: the image file, the image id, workflow ids
// (made unique per run) and the nodes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { execa } from 'execa';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CfsClient } from '../activities/cfs/client';
import { CsmClient } from '../activities/csm/client';
import { devStack, projectRoot, stateDir } from '../dev/config';
import { makeLayerRepo } from '../dev/gitLayer';
import { makeSampleImage } from '../dev/sampleImage';
import { expandNodeset } from '../lib/nodeset';
import type { WorkflowStatus } from '../workflows/support/status';
import { connectClient, uniqueId } from './helpers/temporal';

/** The README's tctl lines, continuation lines joined. */
function readmeTctlLines(): string[] {
  const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const block = /\n# tctl [^\n]*\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README has no "# tctl" block');
  return block.replace(/\\\n\s*/g, '').split('\n').filter((line) => line.startsWith('tctl '));
}

describe('the README tctl lines (tctl against the dev stack)', () => {
  let client: Client;
  let dir: string;
  let env: Record<string, string>;
  const csm = new CsmClient(devStack.csm);
  beforeAll(async () => {
    client = await connectClient();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tctl-'));
    // imagectl as an operator has it on PATH.
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(path.join(dir, 'bin', 'imagectl'), `#!/bin/sh\nexec tsx ${path.join(projectRoot, 'cli', 'imagectl.ts')} "$@"\n`, { mode: 0o755 });
    env = { PATH: `${path.join(stateDir, 'bin')}:${path.join(dir, 'bin')}:${process.env.PATH}`, TEMPORAL_CLI_ADDRESS: devStack.temporal.address, TEMPORAL_ADDRESS: devStack.temporal.address };
  });
  afterAll(async () => {
    await client.connection.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts every workflow type, queries, approves, shows and observes, each run completing', async () => {
    const lines = readmeTctlLines();
    const types = lines.map((line) => /--workflow_type (\S+)/.exec(line)?.[1]).filter(Boolean);
    expect(types).toEqual(['importImage', 'repairManifests', 'customizeImage', 'encryptImage', 'exportImage', 'updateBootParameters', 'rollbackBootParameters', 'retireImage', 'imageLifecycle']);

    const sample = await makeSampleImage(path.join(dir, 'image'), { payloadMiB: 1, label: uniqueId('tctl') });
    const layer = await makeLayerRepo('tctl', [{ name: 'motd', copy: { dest: '/etc/motd', content: 'from tctl\n' } }]);
    await new CfsClient(csm).putConfiguration('compute-config', [{ name: 'motd', clone_url: layer.cloneUrl, commit: layer.commit, playbook: layer.playbook }]);
    const nodeset = `x${randomInt(1000, 9999)}c0s[1-4]b0n0`;
    for (const node of expandNodeset(nodeset)) {
      await csm.request('POST', '/apis/bss/boot/v1/bootparameters', { hosts: [node], kernel: 's3://boot-images/old/kernel', initrd: 's3://boot-images/old/initrd', params: 'console=ttyS0 root=sbps-s3:s3://boot-images/old/rootfs:abc:dvs:x:300:nmn0' });
    }

    const ids = new Map<string, string>();
    let imageId = '';
    const substitute = (line: string) => {
      for (const [, id] of line.matchAll(/--workflow_id (\S+)/g)) if (!ids.has(id)) ids.set(id, uniqueId(id));
      let out = line.replaceAll('/srv/images/rootfs.squashfs', sample.rootfs).replaceAll('/srv/images/vmlinuz', sample.kernel).replaceAll('/srv/images/initrd.img', sample.initrd).replaceAll('x3000c0s[1-4]b0n0', nodeset).replaceAll('<id>', imageId);
      for (const [readmeId, id] of ids) out = out.replace(new RegExp(`(?<=[ "])${readmeId}(?=["\\s]|$)`, 'g'), id);
      return out;
    };
    const run = async (line: string) => {
      const result = await execa('bash', ['-c', substitute(line)], { cwd: dir, env, reject: false, all: true });
      expect(result.exitCode, `${substitute(line)}\n${result.all}`).toBe(0);
      return result.stdout;
    };

    for (const line of lines) {
      const workflowId = ids.get(/--workflow_id (\S+)/.exec(line)![1]) ?? uniqueId('x');
      if (line.includes('imageLifecycle')) fs.writeFileSync(path.join(dir, 'lifecycle.yaml'), `name: tctl-lifecycle\nimageId: ${imageId}\n`);
      if (line.includes(' signal ')) {
        // As an operator does: approve once the rollout says it waits.
        await expect.poll(async () => (await client.workflow.getHandle(workflowId).query<WorkflowStatus>('status')).step, { timeout: 60_000, interval: 500 }).toBe('awaiting approval');
      }
      const stdout = await run(line);
      const handle = client.workflow.getHandle(ids.get(/--workflow_id (\S+)/.exec(line)![1])!);
      if (line.includes(' start ')) {
        expect(stdout).toMatch(/Started Workflow Id: /);
        // the rollout waits for the signal line that follows; every other run completes by itself
        if (line.includes('updateBootParameters')) continue;
        const result = (await handle.result()) as { imageId?: string };
        if (line.includes('importImage')) imageId = result.imageId!;
      } else if (line.includes(' query ')) {
        expect(JSON.parse(stdout.split('\n')[1])[0]).toMatchObject({ phase: expect.any(String), step: expect.any(String) });
      } else if (line.includes(' signal ')) {
        await handle.result();
      } else if (line.includes(' show ')) {
        expect(stdout).toMatch(/WorkflowExecutionCompleted/);
      } else if (line.includes(' observe ')) {
        expect(stdout).toMatch(/Status: COMPLETED/);
      }
    }
    expect(imageId).not.toBe('');
  });
});
