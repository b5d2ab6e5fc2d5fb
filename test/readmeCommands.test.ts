// Every imagectl, `temporal` and tctl line of the README's "Starting each workflow type", run as
// written (bash, the CLIs setup installs) against the dev stack: a start of each workflow type, the
// rollout's status query, its approve signal and update, show and observe; imagectl's start of each
// workflow type from a spec file (the fields of that type's temporal line), its approve and rollback, a
// retire and a report. Only what names this machine's things is substituted: the image file,
// the image id, workflow ids (made unique per run) and the nodes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { execa } from 'execa';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CfsClient } from '../activities/cfs/client';
import { CsmClient } from '../activities/csm/client';
import { devStack, projectRoot, stackEnvironment, stateDir } from '../dev/config';
import { makeLayerRepo } from '../dev/gitLayer';
import { makeSampleImage } from '../dev/sampleImage';
import { expandNodeset } from '../lib/nodeset';
import type { WorkflowStatus } from '../workflows/support/status';
import { removeDevStackExports } from './helpers/exports';
import { connectClient, uniqueId } from './helpers/temporal';

/** How each CLI spells the same things, and where its block of the README starts. */
const clis = {
  temporal: { block: '# temporal CLI', id: '--workflow-id', type: '--type', started: /Running execution:/ },
  tctl: { block: '# tctl', id: '--workflow_id', type: '--workflow_type', started: /Started Workflow Id: / },
} as const;
type Cli = keyof typeof clis;

/** The README's lines of one CLI (those of the block headed by that comment), continuation lines joined. */
function readmeLines(cli: string, block: string): string[] {
  const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const lines = new RegExp(`\\n${block}[^\\n]*\\n([\\s\\S]*?)(?:\\n\\n|\`\`\`)`).exec(readme)?.[1];
  if (!lines) throw new Error(`README has no "${block}" block`);
  return lines.replace(/\\\n\s*/g, '').split('\n').filter((line) => line.startsWith(`${cli} `));
}

/** What the README's earlier lines made that later ones name: the image, its LUKS artifact, where it is exported. */
interface Made {
  imageId: string;
  wwid: string;
  keyId: string;
  artifact: { path: string; etag: string };
  target: string;
  portal: string;
}
const nothingMade = (): Made => ({ imageId: '', wwid: '', keyId: '', artifact: { path: '', etag: '' }, target: '', portal: '' });

function substituteMade(text: string, made: Made): string {
  return text
    .replaceAll('<id>', made.imageId)
    .replaceAll('<wwid>', made.wwid)
    .replaceAll('<key id>', made.keyId)
    .replaceAll('<artifact>', made.artifact.path)
    .replaceAll('<etag>', made.artifact.etag)
    .replaceAll('<target>', made.target)
    .replaceAll('10.1.0.5', made.portal);
}

/** Records what an encryption or an export made, from its result. */
function recordMade(made: Made, type: string, result: { artifact?: { link: { path: string; etag: string }; luks?: { keyId: string } }; servers?: { wwid: string; iqn: string; portals: { address: string }[] }[] }) {
  if (type === 'encryptImage') {
    made.keyId = result.artifact!.luks!.keyId;
    made.artifact = { path: result.artifact!.link.path, etag: result.artifact!.link.etag };
  }
  if (type === 'exportImage') {
    made.wwid = result.servers![0].wwid;
    made.target = result.servers![0].iqn;
    made.portal = result.servers![0].portals[0].address;
  }
}

/** The JSON a query printed (tctl prints it bare, the temporal CLI after a label). */
const printedJson = (stdout: string): unknown => JSON.parse(stdout.slice(stdout.search(/[[{]/), Math.max(stdout.lastIndexOf(']'), stdout.lastIndexOf('}')) + 1));

const expectedTypes: Record<Cli, string[]> = {
  temporal: ['importImage', 'repairManifests', 'customizeImage', 'encryptImage', 'exportImage', 'validateInitiators', 'updateBootParameters', 'rollbackBootParameters', 'attachNodes', 'retireImage', 'checkStack', 'imageLifecycle'],
  tctl: ['importImage', 'repairManifests', 'customizeImage', 'encryptImage', 'exportImage', 'validateInitiators', 'updateBootParameters', 'rollbackBootParameters', 'attachNodes', 'retireImage', 'checkStack', 'imageLifecycle'],
};

describe.each(['temporal', 'tctl'] as const)('the README %s lines against the dev stack', (cli) => {
  const flags = clis[cli];
  const idOf = (line: string) => new RegExp(`${flags.id} (\\S+)`).exec(line)?.[1];
  let client: Client;
  let dir: string;
  let env: Record<string, string>;
  const csm = new CsmClient(devStack.csm);
  beforeAll(async () => {
    client = await connectClient();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `${cli}-`));
    // imagectl as an operator has it on PATH.
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(path.join(dir, 'bin', 'imagectl'), `#!/bin/sh\nexec tsx ${path.join(projectRoot, 'cli', 'imagectl.ts')} "$@"\n`, { mode: 0o755 });
    env = {
      PATH: `${path.join(stateDir, 'bin')}:${path.join(stateDir, 'venv', 'bin')}:${path.join(dir, 'bin')}:${process.env.PATH}`,
      TEMPORAL_CLI_ADDRESS: devStack.temporal.address,
      TEMPORAL_ADDRESS: devStack.temporal.address,
    };
  });
  afterAll(async () => {
    await client.connection.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts every workflow type, queries, approves, shows and observes, each run doing what the README says', async () => {
    const lines = readmeLines(cli, flags.block);
    const types = lines.map((line) => new RegExp(`${flags.type} (\\S+)`).exec(line)?.[1]).filter(Boolean);
    expect(types).toEqual(expectedTypes[cli]);

    const sample = await makeSampleImage(path.join(dir, 'image'), { payloadMiB: 1, label: uniqueId(cli) });
    const layer = await makeLayerRepo(cli, [{ name: 'motd', copy: { dest: '/etc/motd', content: `from ${cli}\n` } }]);
    await new CfsClient(csm).putConfiguration('compute-config', [{ name: 'motd', clone_url: layer.cloneUrl, commit: layer.commit, playbook: layer.playbook }]);
    const nodeset = `x${randomInt(1000, 9999)}c0s[1-4]b0n0`;
    for (const node of expandNodeset(nodeset)) {
      await csm.request('POST', '/apis/bss/boot/v1/bootparameters', { hosts: [node], kernel: 's3://boot-images/old/kernel', initrd: 's3://boot-images/old/initrd', params: 'console=ttyS0 root=sbps-s3:s3://boot-images/old/rootfs:abc:dvs:x:300:nmn0' });
    }

    const ids = new Map<string, string>();
    const made = nothingMade();
    const substitute = (line: string) => {
      for (const [, id] of line.matchAll(new RegExp(`${flags.id} (\\S+)`, 'g'))) if (!ids.has(id)) ids.set(id, uniqueId(id));
      let out = substituteMade(line.replaceAll('/srv/images/rootfs.squashfs', sample.rootfs).replaceAll('/srv/images/vmlinuz', sample.kernel).replaceAll('/srv/images/initrd.img', sample.initrd).replaceAll('x3000c0s[1-4]b0n0', nodeset), made);
      for (const [readmeId, id] of ids) out = out.replace(new RegExp(`(?<=[ "])${readmeId}(?=["\\s]|$)`, 'g'), id);
      return out;
    };
    const run = async (line: string) => {
      const result = await execa('bash', ['-c', substitute(line)], { cwd: dir, env, reject: false, all: true });
      expect(result.exitCode, `${substitute(line)}\n${result.all}`).toBe(0);
      return result.stdout;
    };
    const awaitingApproval = (workflowId: string) =>
      expect.poll(async () => (await client.workflow.getHandle(workflowId).query<WorkflowStatus>('status')).step, { timeout: 60_000, interval: 500 }).toBe('awaiting approval');

    let rolloutStart = '';
    for (const line of lines) {
      const readmeId = idOf(line)!;
      if (line.includes('imageLifecycle')) fs.writeFileSync(path.join(dir, 'lifecycle.yaml'), `name: ${cli}-lifecycle\nimageId: ${made.imageId}\n`);
      const firstRollout = ids.get(readmeId);
      if (line.includes(' update ')) {
        // The README answers the same rollout by signal, then by update: the update gets a rollout of its
        // own (the same nodes, again), as waiting; the lines after it name the first one again.
        ids.set(readmeId, uniqueId(readmeId));
        await run(rolloutStart);
      }
      if (line.includes(' signal ') || line.includes(' update ')) await awaitingApproval(ids.get(readmeId)!); // as an operator does: once the rollout says it waits
      const stdout = await run(line);
      const handle = client.workflow.getHandle(ids.get(readmeId)!);
      if (line.includes(' start ')) {
        expect(stdout).toMatch(flags.started);
        if (line.includes('updateBootParameters')) {
          rolloutStart = line; // it waits for the approval lines that follow
        } else if (line.includes('attachNodes')) {
          // Its nodes would be waiting in their initramfs: the input passed, and it waits for them.
          await expect.poll(async () => (await handle.query<WorkflowStatus>('status')).step, { timeout: 60_000, interval: 500 }).toMatch(/^waiting for 4 node\(s\) in their initramfs/);
          await handle.terminate('the README test has no node in its initramfs');
        } else {
          const result = (await handle.result()) as Parameters<typeof recordMade>[2] & { imageId?: string; passed?: number; s3?: { intact: boolean } };
          const type = new RegExp(`${flags.type} (\\S+)`).exec(line)![1];
          if (type === 'importImage') made.imageId = result.imageId!;
          if (type === 'validateInitiators') expect(result.passed).toBe(2);
          if (type === 'checkStack') expect(result.s3!.intact).toBe(true);
          recordMade(made, type, result);
        }
      } else if (line.includes(' query ')) {
        expect((printedJson(stdout) as WorkflowStatus[] | WorkflowStatus)).toMatchObject(cli === 'tctl' ? [{ phase: expect.any(String), step: expect.any(String) }] : { phase: expect.any(String), step: expect.any(String) });
      } else if (line.includes(' signal ')) {
        await handle.result();
      } else if (line.includes(' update ')) {
        expect(stdout).toMatch(/verdict:approved via:update who:alice/);
        await handle.result();
        ids.set(readmeId, firstRollout!);
      } else if (line.includes(' show ')) {
        expect(stdout).toMatch(/WorkflowExecutionCompleted/);
      } else if (line.includes(' observe ')) {
        expect(stdout).toMatch(/Status: COMPLETED/);
      }
    }
    expect(made.imageId).not.toBe('');
  }, 300_000);
});

/** The JSON input of each workflow type's `temporal workflow start` line: imagectl's spec files carry the same fields. */
function temporalInputs(): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const line of readmeLines('temporal', clis.temporal.block)) {
    const match = /--type (\S+) .*--input '([^']+)'/.exec(line);
    if (match && line.includes(' start ')) inputs[match[1]] = match[2];
  }
  return inputs;
}

describe('the README imagectl lines against the dev stack', () => {
  it('starts each workflow type from a spec file, approves and rolls back the rollout, retires the image, writes the validation report page', { timeout: 600_000 }, async () => {
    const lines = readmeLines('imagectl', '# imagectl');
    const specTypes = lines.map((line) => / start \S+/.test(line) ? (/# workflow: (\w+)/.exec(line)?.[1] ?? 'imageLifecycle') : line.split(' ')[1]);
    expect(specTypes).toEqual(['imageLifecycle', 'importImage', 'repairManifests', 'customizeImage', 'encryptImage', 'exportImage', 'validateInitiators', 'updateBootParameters', 'approve', 'rollback', 'attachNodes', 'retire', 'report']);
    const inputs = temporalInputs();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagectl-readme-'));
    const client = await connectClient();
    const csm = new CsmClient(devStack.csm);
    const exported: { linkPath: string; linkEtag: string; targetIqn: string }[] = [];
    try {
      const sample = await makeSampleImage(path.join(dir, 'image'), { payloadMiB: 1, label: uniqueId('readme-imagectl') });
      const layer = await makeLayerRepo('imagectl', [{ name: 'motd', copy: { dest: '/etc/motd', content: 'from imagectl\n' } }]);
      await new CfsClient(csm).putConfiguration('compute-config', [{ name: 'motd', clone_url: layer.cloneUrl, commit: layer.commit, playbook: layer.playbook }]);
      const nodeset = `x${randomInt(1000, 9999)}c0s[1-4]b0n0`;
      for (const node of expandNodeset(nodeset)) {
        await csm.request('POST', '/apis/bss/boot/v1/bootparameters', { hosts: [node], kernel: 's3://boot-images/old/kernel', initrd: 's3://boot-images/old/initrd', params: 'console=ttyS0 root=sbps-s3:s3://boot-images/old/rootfs:abc:dvs:x:300:nmn0' });
      }
      const files = `rootfs: { file: ${sample.rootfs} }\nkernel: { file: ${sample.kernel} }\ninitrd: { file: ${sample.initrd} }\n`;
      const initiators = "nodes: 'nid[001-002]'";
      const iqnPattern = "'iqn.2026-11.readme.cluster:{node}'";
      fs.writeFileSync(
        path.join(dir, 'lifecycle.yaml'),
        `name: ${uniqueId('readme-lifecycle')}\nimport:\n${files.trimEnd().replace(/^/gm, '  ')}\nexport:\n  servers: [${devStack.iscsiServers.map((s) => `{ name: ${s.name} }`).join(', ')}]\n  initiators: { ${initiators}, iqnPattern: ${iqnPattern} }\n` +
          `validate:\n  ${initiators}\n  initiator: { driver: libiscsi, iqnPattern: ${iqnPattern} }\n`,
      );
      const ids = new Map(['upgrade-1', 'rollout-1', 'attach-1'].map((id) => [id, uniqueId(id)]));
      const made = nothingMade();
      const substitute = (text: string) => {
        let out = text.replaceAll('/srv/images/rootfs.squashfs', sample.rootfs).replaceAll('/srv/images/vmlinuz', sample.kernel).replaceAll('/srv/images/initrd.img', sample.initrd);
        out = substituteMade(out.replaceAll('x3000c0s[1-4]b0n0', nodeset), made);
        for (const [readmeId, id] of ids) out = out.replaceAll(readmeId, id);
        return out.replaceAll('iscsi1', devStack.iscsiServers[0].name).replaceAll('iscsi2', devStack.iscsiServers[1].name);
      };
      // imagectl as an operator has it on PATH.
      fs.mkdirSync(path.join(dir, 'bin'));
      fs.writeFileSync(path.join(dir, 'bin', 'imagectl'), `#!/bin/sh\nexec tsx ${path.join(projectRoot, 'cli', 'imagectl.ts')} "$@"\n`, { mode: 0o755 });
      const env = { ...stackEnvironment(), PATH: `${path.join(dir, 'bin')}:${process.env.PATH}` };
      const resultOf = async <T>(stdout: string, type: string) => {
        const workflowId = new RegExp(`started ${type} (\\S+)`).exec(stdout)?.[1];
        expect(workflowId, stdout).toBeTruthy();
        return { handle: client.workflow.getHandle(workflowId!), result: () => client.workflow.getHandle(workflowId!).result() as Promise<T> };
      };
      for (const [index, line] of lines.entries()) {
        const type = specTypes[index];
        const spec = /imagectl start (\S+)/.exec(line)?.[1];
        // Each spec file but the lifecycle's: its workflow type and the fields of that type's temporal line.
        if (spec && type !== 'imageLifecycle') {
          const input = type === 'importImage' ? `{"name":"${uniqueId('readme-import')}",${inputs.importImage.slice(inputs.importImage.indexOf('"rootfs"'))}` : inputs[type];
          fs.writeFileSync(path.join(dir, spec), JSON.stringify({ workflow: type, ...JSON.parse(substitute(input)) }));
        }
        const command = substitute(line);
        const run = await execa('bash', ['-c', command], { cwd: dir, env, reject: false, all: true });
        expect(run.exitCode, `${command}\n${run.all}`).toBe(0);
        if (type === 'imageLifecycle') {
          const summary = (await client.workflow.getHandle(ids.get('upgrade-1')!).result()) as { phases: { export: { artifact: { path: string; etag: string }; servers: { iqn: string }[] } } };
          exported.push({ linkPath: summary.phases.export.artifact.path, linkEtag: summary.phases.export.artifact.etag, targetIqn: summary.phases.export.servers[0].iqn });
        } else if (type === 'importImage') made.imageId = ((await (await resultOf<{ imageId: string }>(run.stdout, type)).result()).imageId);
        else if (type === 'encryptImage' || type === 'exportImage') recordMade(made, type, await (await resultOf<Parameters<typeof recordMade>[2]>(run.stdout, type)).result());
        else if (type === 'validateInitiators') expect((await (await resultOf<{ passed: number }>(run.stdout, type)).result()).passed).toBe(2);
        else if (type === 'updateBootParameters') {
          const rollout = client.workflow.getHandle(ids.get('rollout-1')!);
          await expect.poll(async () => (await rollout.query<WorkflowStatus>('status')).step, { timeout: 60_000, interval: 500 }).toBe('awaiting approval');
        } else if (type === 'approve') {
          expect(run.stdout).toMatch(/^approved /);
          await client.workflow.getHandle(ids.get('rollout-1')!).result();
        } else if (type === 'rollback') {
          expect(JSON.parse(run.stdout.slice(run.stdout.indexOf('{')))).toMatchObject({ restored: 4 });
          for (const node of expandNodeset(nodeset)) {
            const [entry] = await csm.request<{ params: string }[]>('GET', `/apis/bss/boot/v1/bootparameters?name=${node}`);
            expect(entry.params).toContain('root=sbps-s3:s3://boot-images/old/rootfs:abc');
          }
        } else if (type === 'attachNodes') {
          // Its nodes would be waiting in their initramfs: the input passed, and it waits for them.
          const attach = client.workflow.getHandle(ids.get('attach-1')!);
          await expect.poll(async () => (await attach.query<WorkflowStatus>('status')).step, { timeout: 60_000, interval: 500 }).toMatch(/^waiting for 4 node\(s\) in their initramfs/);
          await attach.terminate('the README test has no node in its initramfs');
        } else if (type === 'retire') expect(run.stdout).toContain(devStack.iscsiServers[1].name);
        else if (type === 'report') expect(fs.readFileSync(path.join(dir, `${ids.get('upgrade-1')}.html`), 'utf8')).toMatch(/nid001/);
      }
      expect(made.imageId).not.toBe('');
    } finally {
      await removeDevStackExports(exported);
      await client.connection.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
