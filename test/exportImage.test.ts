// exportImage through the dev stack: the orchestrator worker reads the manifest, each iSCSI
// server's agent stages and exports, and libiscsi checks what a node would see.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { devStack } from '../dev/config';
import { makeSampleImage, type SampleImage } from '../dev/sampleImage';
import { lunIdentity, marshalTargetIqn } from '../lib/lunIdentity';
import { exportImage } from '../workflows/exportImage';
import { seedImage } from './helpers/images';
import { connectClient, uniqueId } from './helpers/temporal';
import { removeDevStackExports, revokeOpenAccess } from './helpers/exports';
import { discover, identify, naaMatchesWwid, readCapacity } from './export/helpers/initiator';
import { attemptRowsOf } from './helpers/history';

const nodeIqn = (node: string) => `iqn.2026-11.test.export:${node}`;

describe('exportImage (two tgtd servers, libiscsi initiators)', () => {
  let client: Client;
  let sample: SampleImage;
  const exported: { linkPath: string; linkEtag: string }[] = [];

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

  it('exports the rootfs read-only on both servers with the SBPS identity, visible only to the listed nodes, and idempotently', async () => {
    await revokeOpenAccess();
    const image = await seedImage(sample);
    const rootfs = image.manifest.artifacts[0];
    const identity = lunIdentity({ linkPath: rootfs.link.path, linkEtag: rootfs.link.etag! });
    exported.push({ linkPath: rootfs.link.path, linkEtag: rootfs.link.etag! });

    const first = await run(image.imageId);
    expect(first.servers.map((s) => [s.server, s.created, s.wwid, s.serial])).toEqual(
      devStack.iscsiServers.map((s) => [s.name, true, identity.wwid, identity.serial]),
    );

    for (const [index, server] of devStack.iscsiServers.entries()) {
      const portal = { address: server.address, port: server.port };
      const iqn = marshalTargetIqn(server.name);
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
    expect(result.artifact.etag).toBe(image.manifest.artifacts[0].link.etag);
    const rows = await attemptRowsOf(client, workflowId);
    expect(rows.filter((r) => r.repair).map((r) => r.label)).toEqual(['repair ManifestEtagFault for check manifest']);
    expect(rows.find((r) => r.label === 'check manifest')?.errorType).toBe('ManifestEtagFault');
  });

  it('refuses bad input before doing anything', async () => {
    const error = await client.workflow
      .execute(exportImage, { taskQueue: devStack.temporal.taskQueue, workflowId: uniqueId('export-bad'), args: [{ imageId: '', servers: [], initiators: ['nope'] }] })
      .catch((e) => e);
    expect(error.cause.type).toBe('InvalidInput');
    expect(error.cause.message).toMatch(/imageId: image id is empty.*servers: give at least one iSCSI server.*initiators/);
  });
});
