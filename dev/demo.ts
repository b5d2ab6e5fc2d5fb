// npm run demo: the whole image lifecycle on a generated sample image, through the real dev stack:
// import to IMS, customize with a CFS layer, LUKS-encrypt, export on both tgtd servers, check from four
// simulated nodes (libiscsi) that they reach and open it, point their BSS entries at it (a canary,
// then the rest). Two faults are injected on the way, so the history shows what the workflows do
// with them: IMS answers the import's first request with a 503 (retried), and CFS registers the
// customized image with seed 000's etag-less manifest (repaired).
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import path from 'node:path';
import { collectAttempts, type AttemptRow } from '../cli/history';
import { historyTable } from '../cli/render';
import type { LifecycleSummary } from '../workflows/imageLifecycle';
import { devStack, stateDir } from './config';
import { makeLayerRepo } from './gitLayer';
import { makeSampleImage } from './sampleImage';

const nodes = 'x3000c0s[1-4]b0n0';
// Nodes without a BSS entry get one made from these (the rollout then rewrites root= and adds ours).
const baseParams = 'console=ttyS0,115200 root=sbps-s3:s3://boot-images/none/rootfs:none:dvs:api-gw-service-nmn.local:300:nmn0 quiet';

const setSimFaults = async (faults: object) => {
  const response = await fetch(`${devStack.csm.url}/_sim/faults`, { method: 'PUT', body: JSON.stringify(faults) });
  if (!response.ok) throw new Error(`PUT /_sim/faults: ${response.status} ${await response.text()}`);
};
const noFaults = { failNext: 0, errorPathPrefix: '/apis/', etaglessResultsNext: 0 };

/** The rows that show a fault handled: each failed attempt, the repair after it, and the try that then succeeded. */
function faultLines(rows: AttemptRow[]): string[] {
  const step = (row: AttemptRow) => row.label.replace(/ \(attempt \d+\)$/, '');
  return rows.flatMap((row, index) => {
    if (row.outcome !== 'failed' || row.kind !== 'activity') return [];
    const later = rows.slice(index + 1);
    const repair = later.find((r) => r.repair && r.label.endsWith(`for ${step(row).split(' › ').at(-1)}`));
    const retry = later.find((r) => step(r) === step(row) && r.attempt > row.attempt);
    return [
      `│ fault      ${step(row)}, attempt ${row.attempt}: ${row.errorType}` +
        (repair ? `; repaired (${repair.type})` : '') +
        (retry ? `; attempt ${retry.attempt} ${retry.outcome}` : ''),
    ];
  });
}

const started = Date.now();
const image = await makeSampleImage(path.join(stateDir, 'sample'), { label: 'demo' });
const layer = await makeLayerRepo('demo-motd', [{ name: 'motd', copy: { dest: '/etc/motd', content: 'customized by CFS in the demo\n' } }]);
const connection = await Connection.connect({ address: devStack.temporal.address });
const client = new Client({ connection, namespace: devStack.temporal.namespace });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const workflowId = `demo-lifecycle-${stamp}`;
const uiLink = `${devStack.temporal.uiUrl}/namespaces/${devStack.temporal.namespace}/workflows/${workflowId}`;

console.log(`demo: the lifecycle of a sample image (${path.relative(process.cwd(), image.rootfs)}) as ${workflowId}`);
console.log(`      follow it with: npx imagectl watch ${workflowId}   or in the UI: ${uiLink}`);
console.log('      faults injected: the first IMS request answers 503; CFS registers the customized image without its rootfs etag');
try {
  await setSimFaults({ failNext: 1, errorStatus: 503, errorPathPrefix: '/apis/ims', etaglessResultsNext: 1 });
  const summary = (await client.workflow.execute('imageLifecycle', {
    taskQueue: devStack.temporal.taskQueue,
    workflowId,
    args: [
      {
        // Each run is a new image, with a per-image target of its own (a target holds one image).
        name: `demo-compute-${stamp.toLowerCase()}`,
        import: { rootfs: { file: image.rootfs }, kernel: { file: image.kernel }, initrd: { file: image.initrd }, partSizeMiB: 5 },
        customize: { configuration: `demo-${stamp.toLowerCase()}`, layers: [{ name: 'motd', ...layer }], resultName: `demo-compute-${stamp.toLowerCase()}-cfs`, pollIntervalSeconds: 1 },
        encrypt: {},
        export: { servers: devStack.iscsiServers.map((s) => ({ name: s.name })), initiators: { nodes: 'nid[001-004]', iqnPattern: 'iqn.2026-11.demo.cluster:{node}' } },
        validate: { nodes: 'nid[001-004]', initiator: { driver: 'libiscsi', iqnPattern: 'iqn.2026-11.demo.cluster:{node}' } },
        bootParameters: { nodes, canarySize: 1, batchSize: 2, missingHosts: 'create', baseParams },
      },
    ],
  })) as LifecycleSummary;
  const { import: imported, customize, encrypt, export: exported, validate, bootParameters } = summary.phases;
  const rows = await collectAttempts(client, workflowId);
  console.log(`imagectl history ${workflowId}:\n${historyTable(rows)}`);
  console.log(`
┌ demo finished in ${((Date.now() - started) / 1000).toFixed(1)}s
│ workflow   ${workflowId}   (UI ${uiLink})
│ imported   IMS image ${imported!.imageId}, manifest ${imported!.manifest.path}
${imported!.artifacts.map((a) => `│   ${a.type.replace('application/vnd.cray.image.', '').padEnd(16)} ${a.link.path}  etag ${a.link.etag}`).join('\n')}
│ customized IMS image ${summary.imageId} by CFS session ${customize!.sessionName}
│ manifest   ${summary.manifest.path}  etag ${summary.manifest.etag}
│   ${'rootfs.luks'.padEnd(16)} ${encrypt!.artifact.link.path}  etag ${encrypt!.artifact.link.etag}
│ LUKS${encrypt!.artifact.luks.luksVersion}      uuid ${encrypt!.artifact.luks.uuid}, key ${encrypt!.artifact.luks.keyId} (sha256 ${encrypt!.artifact.luks.fingerprint.slice(0, 16)}…)
${exported!.servers.map((s) => `│ iSCSI      ${s.server}: ${s.iqn} LUN ${s.lun} on ${s.portals.map((p) => `${p.address}:${p.port}`).join(', ')}  WWID ${s.wwid}`).join('\n')}
│ validated  ${validate!.passed} of ${validate!.nodes} nodes reach both servers and open the LUN (libiscsi); report ${validate!.report}
│ BSS        ${bootParameters!.nodes.nodeset}: ${bootParameters!.batches.length} batches (canary first), change ${bootParameters!.changeId}
${faultLines(rows).join('\n')}
│ history    npx imagectl history ${workflowId}   (printed above)
│ undo BSS   npx imagectl rollback ${bootParameters!.changeId} --wait
└ the stack stays up for the UI; stop it with: npm stop`);
} catch (error) {
  const cause = error instanceof WorkflowFailedError ? (error.cause as Error) : (error as Error);
  console.error(`demo failed: ${cause?.message}\n  UI: ${uiLink}\n  history: npx imagectl history ${workflowId}`);
  process.exitCode = 1;
} finally {
  await setSimFaults(noFaults).catch(() => undefined);
  await connection.close();
}
