// exportImage through the dev stack: the orchestrator worker reads the manifest, each iSCSI
// server's agent stages and exports, and libiscsi checks what a node would see.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { devStack } from '../dev/config';
import { makeSampleImage, type SampleImage } from '../dev/sampleImage';
import { lunIdentity } from '../lib/lunIdentity';
import { defaultTargetPrefix } from '../lib/exportLayout';
import { showTargets } from '../activities/tgt/tgtadm';
import { exportImage } from '../workflows/exportImage';
import { seedImage } from './helpers/images';
import { connectClient, uniqueId } from './helpers/temporal';
import { removeDevStackExports } from './helpers/exports';
import { discover, identify, naaMatchesWwid, readCapacity } from './export/helpers/initiator';
import { attemptRowsOf } from './helpers/history';

const nodeIqn = (node: string) => `iqn.2026-11.test.export:${node}`;

describe('exportImage (two tgtd servers, libiscsi initiators)', () => {
  let client: Client;
  let sample: SampleImage;
  const exported: { linkPath: string; linkEtag: string; targetIqn?: string }[] = [];

  beforeAll(async () => {
    client = await connectClient();
    sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'export-')), { payloadMiB: 2, label: uniqueId('export') });
  });
  afterAll(async () => {
    await removeDevStackExports(exported);
    await client.connection.close();
  });

  const run = (imageId: string) =>
    client.workflow.execute(exportImage, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId: uniqueId('export'),
      args: [{ imageId, servers: devStack.iscsiServers.map((s) => ({ name: s.name })), initiators: { nodes: 'nid[001-002]', iqnPattern: nodeIqn('{node}') } }],
    });

  it('exports the rootfs read-only on both servers on a target of its own named after the image, with the SBPS identity, visible only to the listed nodes, and idempotently', async () => {
    const name = uniqueId('Export_Test');
    const image = await seedImage(sample, { name });
    const rootfs = image.manifest.artifacts[0];
    const identity = lunIdentity({ linkPath: rootfs.link.path, linkEtag: rootfs.link.etag! });
    const iqn = `${defaultTargetPrefix}${name.toLowerCase().replace('_', '-')}`;
    exported.push({ linkPath: rootfs.link.path, linkEtag: rootfs.link.etag!, targetIqn: iqn });

    const first = await run(image.imageId);
    expect(first.layout).toBe('per-image');
    expect(first.servers.map((s) => [s.server, s.created, s.iqn, s.lun, s.wwid, s.serial])).toEqual(
      devStack.iscsiServers.map((s) => [s.name, true, iqn, 1, identity.wwid, identity.serial]),
    );

    for (const [index, server] of devStack.iscsiServers.entries()) {
      const portal = { address: server.address, port: server.port };
      expect(await discover(portal, { initiator: nodeIqn('nid001') })).toContain(iqn);
      expect(await discover(portal, { initiator: nodeIqn('nid999') })).not.toContain(iqn);
      const lun = { ...portal, iqn, lun: first.servers[index].lun };
      expect(await readCapacity(lun, { initiator: nodeIqn('nid002') })).toBe(fs.statSync(sample.rootfs).size);
      const seen = await identify(lun, { initiator: nodeIqn('nid002') });
      expect(seen.serial).toBe(identity.serial);
      expect(naaMatchesWwid(seen.naa, identity.wwid), `NAA ${seen.naa} vs WWID ${identity.wwid}`).toBe(true);
    }

    const again = await run(image.imageId);
    expect(again.servers.map((s) => [s.created, s.lun])).toEqual(first.servers.map((s) => [false, s.lun]));
  });

  it('repairs a stale rootfs etag met on the way, then exports', async () => {
    const image = await seedImage(sample, {
      edit: (manifest) => {
        manifest.artifacts[0].link.etag = '00000000000000000000000000000000';
      },
    });
    const workflowId = uniqueId('export-repair');
    const result = await client.workflow.execute(exportImage, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId,
      args: [{ imageId: image.imageId, servers: [{ name: devStack.iscsiServers[0].name }], initiators: 'generate-node-acls' }],
    });
    exported.push({ linkPath: result.artifact.path, linkEtag: result.artifact.etag });
    expect(result.layout).toBe('sbps');
    expect(result.artifact.etag).toBe(image.manifest.artifacts[0].link.etag);
    const rows = await attemptRowsOf(client, workflowId);
    expect(rows.filter((r) => r.repair).map((r) => r.label)).toEqual(['repair ManifestEtagFault for check manifest']);
    expect(rows.find((r) => r.label === 'check manifest')?.errorType).toBe('ManifestEtagFault');
  });

  /** Every target and LUN on the dev stack's servers that carries this artifact, or its per-image target. */
  const leftovers = async (link: { linkPath: string; linkEtag: string }, targetIqn: string) => {
    const { serial } = lunIdentity(link);
    const found: string[] = [];
    for (const server of devStack.iscsiServers) {
      for (const target of await showTargets(server.controlPort)) {
        if (target.iqn === targetIqn) found.push(`${server.name}: target ${target.iqn}`);
        for (const lun of target.luns.filter((l) => l.serial === serial)) found.push(`${server.name}: LUN ${lun.lun} of ${target.iqn}`);
      }
    }
    return found;
  };

  /** A new image, its rootfs link and the per-image target it gets (its name is already IQN-safe). */
  const seedWithOwnTarget = async (prefix: string) => {
    const name = uniqueId(prefix);
    const image = await seedImage(sample, { name });
    const rootfs = image.manifest.artifacts[0];
    const link = { linkPath: rootfs.link.path, linkEtag: rootfs.link.etag! };
    const iqn = `${defaultTargetPrefix}${name}`;
    exported.push({ ...link, targetIqn: iqn });
    return { image, link, iqn };
  };

  it('a server failing mid-export: the export made on the other server and the half-made one are removed; one that existed before stays', async () => {
    const { image, link, iqn } = await seedWithOwnTarget('export-fails');
    const [good, bad] = devStack.iscsiServers;
    const initiators = { nodes: 'nid[001-002]', iqnPattern: nodeIqn('{node}') };
    // tgtd cannot listen on an address this host does not have: the portal, the last step, fails.
    const unreachable = [{ address: '192.0.2.1', port: 3260 }];
    const start = (servers: object[]) =>
      client.workflow.execute(exportImage, { taskQueue: devStack.temporal.taskQueue, workflowId: uniqueId('export-fail'), args: [{ imageId: image.imageId, servers, initiators }] });

    const failure = await start([{ name: good.name }, { name: bad.name, portals: unreachable }]).catch((e) => e);
    expect(failure.cause.message).toMatch(new RegExp(`export on ${bad.name}: .*192\\.0\\.2\\.1`));
    expect(await leftovers(link, iqn)).toEqual([]);

    const before = await start([{ name: good.name }]);
    expect(before.servers[0].created).toBe(true);
    const snapshot = (await showTargets(good.controlPort)).find((t) => t.iqn === iqn);
    await start([{ name: good.name }, { name: bad.name, portals: unreachable }]).catch((e) => e);
    expect(await leftovers(link, iqn)).toEqual([`${good.name}: target ${iqn}`, `${good.name}: LUN 1 of ${iqn}`]);
    expect((await showTargets(good.controlPort)).find((t) => t.iqn === iqn)).toEqual(snapshot);
  });

  it('a cancel mid-export stops the running export and removes what it made on every server', async () => {
    const { image, link, iqn } = await seedWithOwnTarget('export-cancel');
    // Thousands of ACLs are thousands of tgtadm calls: the export is still binding them when cancelled.
    const handle = await client.workflow.start(exportImage, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId: uniqueId('export-cancel'),
      args: [{ imageId: image.imageId, servers: devStack.iscsiServers.map((s) => ({ name: s.name })), initiators: { nodes: 'nid[0001-3000]', iqnPattern: nodeIqn('{node}') } }],
    });
    for (let tries = 0; !(await leftovers(link, iqn)).some((l) => l.includes('LUN')); tries++) {
      if (tries > 600) throw new Error('the export never created its LUN');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await handle.cancel();
    const error = await handle.result().catch((e) => e);
    expect(error.cause?.name).toBe('CancelledFailure');
    expect(await leftovers(link, iqn)).toEqual([]);
    const { events } = await handle.fetchHistory();
    const removals = events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'removeExport');
    expect(removals.length).toBe(devStack.iscsiServers.length);
  });

  it('refuses bad input before doing anything', async () => {
    const error = await client.workflow
      .execute(exportImage, { taskQueue: devStack.temporal.taskQueue, workflowId: uniqueId('export-bad'), args: [{ imageId: '', servers: [], initiators: ['nope'] }] })
      .catch((e) => e);
    expect(error.cause.type).toBe('InvalidInput');
    expect(error.cause.message).toMatch(/imageId: image id is empty.*servers: give at least one iSCSI server.*initiators.0: "nope" is not an iSCSI name/);
  });
});
