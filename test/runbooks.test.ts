// The runbooks as an operator runs them: bash, once with tctl and once with the `temporal` CLI (both
// installed by dev/setup.sh), exit codes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsmClient } from '../activities/csm/client';
import { ImsClient } from '../activities/ims/client';
import { devStack, stackEnvironment, stateDir } from '../dev/config';
import { makeSampleImage, type SampleImage } from '../dev/sampleImage';
import { expandNodeset } from '../lib/nodeset';
import { uniqueId } from './helpers/temporal';

const csm = new CsmClient(devStack.csm);
const bssPath = '/apis/bss/boot/v1/bootparameters';
const cliBinary = { temporal: path.join(stateDir, 'venv', 'bin', 'temporal'), tctl: path.join(stateDir, 'bin', 'tctl') };

/** The approve signal as an operator sends it with each CLI. */
function approveCommand(cli: keyof typeof cliBinary, workflowId: string): string[] {
  const decision = JSON.stringify({ who: 'runbook-test', reason: 'canary booted' });
  return cli === 'tctl'
    ? ['--address', devStack.temporal.address, 'workflow', 'signal', '--workflow_id', workflowId, '--name', 'approve', '--input', decision]
    : ['workflow', 'signal', '--address', devStack.temporal.address, '--workflow-id', workflowId, '--name', 'approve', '--input', decision];
}

describe.each(['temporal', 'tctl'] as const)('runbooks (with %s against the dev stack)', (cli) => {
  const runbook = (name: string, args: string[], env: Record<string, string> = {}) =>
    execa('bash', [`runbooks/${name}`, ...args], { env: { ...stackEnvironment(), RUNBOOK_POLL_SECONDS: '1', RUNBOOK_CLI: cli, ...env }, reject: false });
  let dir: string;
  let sample: SampleImage;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runbooks-'));
    sample = await makeSampleImage(path.join(dir, 'image'), { payloadMiB: 1, label: uniqueId('runbook') });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('import-image.sh prints the new IMS image id and exits 0; exits 1 with the failure type for a missing file', async () => {
    const ok = await runbook('import-image.sh', [uniqueId('rb'), sample.rootfs, sample.kernel, sample.initrd]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    const imageId = ok.stdout.trim();
    expect((await new ImsClient(csm).getImage(imageId)).link?.path).toBe(`s3://boot-images/${imageId}/manifest.json`);

    const noArgs = await runbook('import-image.sh', []);
    expect(noArgs.exitCode).toBe(2);
    expect(noArgs.stderr).toContain('runbooks/import-image.sh NAME ROOTFS [KERNEL [INITRD]]');

    const missing = await runbook('import-image.sh', [uniqueId('rb'), path.join(dir, 'no-such-rootfs')]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/workflow failed \(InvalidInput\): .*no-such-rootfs/);
    expect(missing.stderr).toContain(`starting importImage as import-`);
    expect(missing.stderr).toContain(`with ${cli}`);

    // imagectl's exit code for a Temporal that cannot be reached (nothing listens on port 1).
    const unreachable = await runbook('import-image.sh', [uniqueId('rb'), sample.rootfs], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(unreachable.exitCode, unreachable.stderr).toBe(3);
  });

  it('upgrade-compute-image.sh refuses an invalid spec (exit 2), then upgrades and rollback-boot-parameters.sh undoes it', async () => {
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'name: compute\nimageId: abc\nencrypt: { luksVersion: 1, sectorSize: 4096 }\n');
    const refused = await runbook('upgrade-compute-image.sh', [bad]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/encrypt\.sectorSize.*LUKS1 supports only 512-byte sectors/);

    const nodeset = `x${randomInt(1000, 9999)}c0s[1-2]b0n0`;
    const nodes = expandNodeset(nodeset);
    await csm.request('POST', bssPath, { hosts: [nodes[0]], kernel: 's3://boot-images/old/kernel', initrd: 's3://boot-images/old/initrd', params: 'root=sbps-s3:s3://boot-images/old/rootfs:abc:dvs:x:300:nmn0' });
    const before = await csm.request<unknown[]>('GET', `${bssPath}?name=${nodes[0]}`);
    const spec = path.join(dir, 'upgrade.yaml');
    fs.writeFileSync(
      spec,
      [
        `name: ${uniqueId('compute')}`,
        'import:',
        `  rootfs: { file: ${sample.rootfs} }`,
        `  kernel: { file: ${sample.kernel} }`,
        `  initrd: { file: ${sample.initrd} }`,
        'bootParameters:',
        `  nodes: "${nodeset}"`,
        '  missingHosts: create',
        '  approval: { required: true }',
        '  baseParams: "console=ttyS0 root=sbps-s3:s3://boot-images/none/rootfs:none:dvs:x:300:nmn0"',
      ].join('\n'),
    );
    const workflowId = uniqueId('upgrade');
    const running = runbook('upgrade-compute-image.sh', [spec, workflowId]);
    // The runbook polls the rollout's status query and says when it waits; the operator approves.
    await new Promise<void>((resolve, reject) => {
      let said = '';
      running.stderr!.on('data', (chunk: Buffer) => {
        said += chunk.toString();
        if (said.includes('the rollout waits for you')) resolve();
      });
      running.then(() => reject(new Error(`the runbook ended without asking for approval:\n${said}`)), reject);
    });
    const approved = await execa(cliBinary[cli], approveCommand(cli, workflowId), { reject: false, all: true });
    expect(approved.exitCode, approved.all).toBe(0);
    const upgraded = await running;
    expect(upgraded.exitCode, upgraded.stderr).toBe(0);
    const changeId = JSON.parse(upgraded.stdout).phases.bootParameters.changeId as string;
    expect(changeId).toBe(`${workflowId}.boot-parameters`);
    expect(await csm.request('GET', `${bssPath}?name=${nodes[0]}`)).not.toEqual(before);

    const rolledBack = await runbook('rollback-boot-parameters.sh', [changeId]);
    expect(rolledBack.exitCode, rolledBack.stderr).toBe(0);
    expect(await csm.request('GET', `${bssPath}?name=${nodes[0]}`)).toEqual(before);
    // The node that had no entry before the upgrade has none again.
    await expect(csm.request('GET', `${bssPath}?name=${nodes[1]}`)).rejects.toMatchObject({ status: 404 });
  });
});

describe('the temporal CLI on a malformed input', () => {
  it('a malformed input given to `temporal workflow execute` fails the run at once with every zod issue', async () => {
    const result = await execa(cliBinary.temporal, [
      'workflow', 'execute', '--address', devStack.temporal.address, '--task-queue', devStack.temporal.taskQueue,
      '--type', 'importImage', '--workflow-id', uniqueId('cli-bad'), '--input', '{"name":"","rootfs":{"ftp":"x"},"partSizeMiB":1}',
    ], { reject: false, all: true });
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/invalid import spec/);
    expect(result.all).toMatch(/name: image name is empty/);
    expect(result.all).toMatch(/rootfs: give either/);
    expect(result.all).toMatch(/partSizeMiB: /);
  });
});
