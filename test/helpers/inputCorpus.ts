// The malformed-input corpus: valid controls, one per workflow type, and cases each refused naming
// a field. test/inputCorpus.test.ts runs them through the workflows' own check and imagectl's reader,
// test/inputCorpusTemporalCli.test.ts through `temporal workflow start` to the dev stack's workers.
import { workflowInputSchemas } from '../../lib/specs/registry';

export const controls: Record<string, Record<string, unknown>> = {
  imageLifecycle: { name: 'compute', imageId: 'img-1' },
  importImage: { name: 'compute', rootfs: { file: '/srv/images/rootfs.squashfs' } },
  repairManifests: { dryRun: true },
  customizeImage: { imageId: 'img-1', configuration: 'compute-config' },
  exportImage: { imageId: 'img-1', servers: [{ name: 'iscsi1' }], initiators: 'generate-node-acls' },
  encryptImage: { imageId: 'img-1' },
  updateBootParameters: { nodes: 'x3000c0s[1-4]b0n0', imageId: 'img-1', validate: { options: { initiator: { driver: 'open-iscsi' } } } },
  rollbackBootParameters: { changeId: 'rollout-1' },
  validateInitiators: {
    nodes: 'nid[001-002]',
    rootfs: { path: 's3://boot-images/img-1/rootfs', etag: 'abc' },
    iscsi: { targets: [{ iqn: 'iqn.2026-01.org.site:img-1', address: '10.0.0.1' }] },
    initiator: { driver: 'open-iscsi' },
  },
  retireImage: { imageId: 'img-1', servers: [{ name: 'iscsi1' }] },
};

export interface Case {
  name: string;
  type: string;
  input: Record<string, unknown>;
  /** A line every surface must report: its start (the field path) and a part of its message. */
  path: string;
  message?: RegExp;
  /** For a generated case, which of `wrongValues` it gives the field. */
  wrongValue?: number;
}

// Values no field of any spec takes: an object with an unknown key, a negative fraction, nested arrays.
export const wrongValues: [string, unknown][] = [
  ['an object with an unknown key', { __bad: 1 }],
  ['a negative fraction', -987654.5],
  ['nested arrays', [[[]]]],
];

const generated: Case[] = Object.entries(controls).flatMap(([type, control]) => {
  const fields = Object.keys((workflowInputSchemas[type] as unknown as { shape: Record<string, unknown> }).shape);
  return [
    ...fields.flatMap((field) => wrongValues.map(([what, value], wrongValue) => ({ name: `${type}.${field} as ${what}`, type, input: { ...control, [field]: value }, path: field, wrongValue }))),
    { name: `${type} with an unknown key`, type, input: { ...control, colour: 'blue' }, path: '(top level)', message: /colour/ },
  ];
});

const deep = (levels: number): unknown => (levels === 0 ? 'x' : { a: deep(levels - 1) });
const lc = controls.imageLifecycle;
const rollout = controls.updateBootParameters;
const validation = controls.validateInitiators;
const canaryOptions = { initiator: { driver: 'open-iscsi' } };
const chosen: Case[] = [
  { name: 'a name larger than any payload should carry', type: 'importImage', input: { ...controls.importImage, name: 'n'.repeat(100_000) }, path: 'name', message: /at most 255/ },
  { name: 'a lifecycle name of 256 characters', type: 'imageLifecycle', input: { ...lc, name: 'n'.repeat(256) }, path: 'name', message: /at most 255/ },
  { name: 'a change id longer than a workflow id may be', type: 'rollbackBootParameters', input: { changeId: 'c'.repeat(1001) }, path: 'changeId', message: /at most 1000/ },
  { name: 'input nested 40 levels deep', type: 'importImage', input: { ...controls.importImage, extra: deep(40) }, path: '(top level)', message: /nested more than 32 levels/ },
  { name: 'a caller-supplied resume', type: 'validateInitiators', input: { ...validation, resume: { nextBatch: 5 } }, path: 'resume', message: /set by the workflow itself/ },
  { name: 'more than 100,000 nodes in all', type: 'updateBootParameters', input: { ...rollout, nodes: ['x1000c[0-7]s[0-7]b0n[0-999]', 'x1001c[0-7]s[0-7]b0n[0-999]'] }, path: 'nodes', message: /more than 100000 nodes in all/ },
  { name: 'a node set that does not parse', type: 'updateBootParameters', input: { ...rollout, nodes: 'x3000c0s[1-4b0n0' }, path: 'nodes', message: /unbalanced/ },
  { name: 'nodes that are not xnames', type: 'updateBootParameters', input: { ...rollout, nodes: 'nid[1-3]' }, path: 'nodes', message: /not node xnames/ },
  { name: 'an approval timeout of Infinity minutes', type: 'updateBootParameters', input: { ...rollout, approval: { required: true, timeoutMinutes: 1e400 } }, path: 'approval.timeoutMinutes' },
  { name: 'an approval timeout the SDK would print as 1e-7m', type: 'updateBootParameters', input: { ...rollout, approval: { required: true, timeoutMinutes: 1e-7 } }, path: 'approval.timeoutMinutes', message: /at least 0.001/ },
  { name: 'an approval timeout of a year', type: 'updateBootParameters', input: { ...rollout, approval: { required: true, timeoutMinutes: 525_600 } }, path: 'approval.timeoutMinutes', message: /at most a week/ },
  { name: 'a validation timeout of zero', type: 'updateBootParameters', input: { ...rollout, validate: { timeoutMinutes: 0 } }, path: 'validate.timeoutMinutes' },
  { name: 'a canary validation without its options', type: 'updateBootParameters', input: { ...rollout, validate: { timeoutMinutes: 30 } }, path: 'validate.options' },
  { name: 'canary validation options with an unknown key', type: 'updateBootParameters', input: { ...rollout, validate: { options: { ...canaryOptions, failNodes: ['x3000c0s1b0n0'] } } }, path: 'validate.options', message: /failNodes/ },
  { name: 'canary validation options without an initiator', type: 'updateBootParameters', input: { ...rollout, validate: { options: { checks: { wrongChap: false } } } }, path: 'validate.options.initiator' },
  { name: 'canary validation options naming nodes of their own', type: 'updateBootParameters', input: { ...rollout, validate: { options: { ...canaryOptions, nodes: 'x3000c0s9b0n0' } } }, path: 'validate.options', message: /nodes/ },
  { name: 'canary validation options with a caller-supplied resume', type: 'updateBootParameters', input: { ...rollout, validate: { options: { ...canaryOptions, resume: { nextBatch: 5 } } } }, path: 'validate.options', message: /resume/ },
  { name: 'canary validation options giving the LUN identity', type: 'updateBootParameters', input: { ...rollout, validate: { options: { ...canaryOptions, rootfs: { path: 's3://b/k', etag: 'e' } } } }, path: 'validate.options', message: /rootfs/ },
  { name: 'a canary check option that is a string', type: 'updateBootParameters', input: { ...rollout, validate: { options: { ...canaryOptions, checks: { wrongChap: 'no' } } } }, path: 'validate.options.checks.wrongChap' },
  { name: 'an unknown canary check', type: 'updateBootParameters', input: { ...rollout, validate: { options: { ...canaryOptions, checks: { bootsFast: true } } } }, path: 'validate.options.checks', message: /bootsFast/ },
  { name: 'a canary chunk size of 0', type: 'updateBootParameters', input: { ...rollout, validate: { options: { ...canaryOptions, chunkSize: 0 } } }, path: 'validate.options.chunkSize' },
  { name: 'a canary CHAP secret reference with ..', type: 'updateBootParameters', input: { ...rollout, validate: { options: { ...canaryOptions, chap: { userRef: 'u', secretRef: '../etc/shadow' } } } }, path: 'validate.options.chap.secretRef' },
  { name: 'a canary libiscsi pattern without {node}', type: 'updateBootParameters', input: { ...rollout, validate: { options: { initiator: { driver: 'libiscsi', iqnPattern: 'iqn.2026-01.org.site:nid' } } } }, path: 'validate.options.initiator.iqnPattern', message: /\{node\}/ },
  { name: 'a lifecycle rollout whose canary options have an unknown key', type: 'imageLifecycle', input: { ...lc, bootParameters: { nodes: 'x3000c0s1b0n0', validate: { options: { ...canaryOptions, takesMs: 3000 } } } }, path: 'bootParameters.validate.options', message: /takesMs/ },
  { name: 'a CFS deadline of 1e21 minutes', type: 'customizeImage', input: { ...controls.customizeImage, deadlineMinutes: 1e21 }, path: 'deadlineMinutes' },
  { name: 'a retry budget of -1 minutes', type: 'importImage', input: { ...controls.importImage, retry: { budgetMinutes: -1 } }, path: 'retry.budgetMinutes' },
  { name: 'a retry budget with an unknown key', type: 'exportImage', input: { ...controls.exportImage, retry: { tries: 5 } }, path: 'retry', message: /tries/ },
  { name: 'a lifecycle retry interval of 0 s', type: 'imageLifecycle', input: { ...lc, retry: { maxIntervalSeconds: 0 } }, path: 'retry.maxIntervalSeconds' },
  { name: 'a rollout target that is not an IQN', type: 'updateBootParameters', input: { ...rollout, iscsi: { targets: [{ iqn: 'eui.1234', address: '10.0.0.1' }] } }, path: 'iscsi.targets.0.iqn', message: /iSCSI qualified name/ },
  { name: 'a portal address with a space', type: 'updateBootParameters', input: { ...rollout, iscsi: { targets: [{ iqn: 'iqn.2026-01.org.site:x', address: '10.0.0.1 ; reboot' }] } }, path: 'iscsi.targets.0.address' },
  { name: 'a portal port of 70000', type: 'updateBootParameters', input: { ...rollout, iscsi: { targets: [{ iqn: 'iqn.2026-01.org.site:x', address: '10.0.0.1', port: 70000 }] } }, path: 'iscsi.targets.0.port' },
  { name: 'a LUKS key reference that is a key', type: 'updateBootParameters', input: { ...rollout, iscsi: { luksKeyRef: 'AAAA BBBB CCCC==' } }, path: 'iscsi.luksKeyRef', message: /never the key/ },
  { name: 'a WWID in upper case', type: 'updateBootParameters', input: { ...rollout, iscsi: { lunWwid: '36001405ABCDEF0123456789ABCDEF' } }, path: 'iscsi.lunWwid' },
  { name: 'a validation CHAP secret reference with ..', type: 'validateInitiators', input: { ...validation, chap: { userRef: 'chap/user', secretRef: '../etc/shadow' } }, path: 'chap.secretRef', message: /not a relative name/ },
  { name: 'a validation key id with a space', type: 'validateInitiators', input: { ...validation, luks: { keyId: 'my key' } }, path: 'luks.keyId' },
  { name: 'a libiscsi pattern without {node}', type: 'validateInitiators', input: { ...validation, initiator: { driver: 'libiscsi', iqnPattern: 'iqn.2026-01.org.site:nid' } }, path: 'initiator.iqnPattern', message: /\{node\}/ },
  { name: 'an unknown initiator driver', type: 'validateInitiators', input: { ...validation, initiator: { driver: 'iser' } }, path: 'initiator.driver' },
  { name: 'a content path that climbs out', type: 'validateInitiators', input: { ...validation, content: { path: '/../../etc/passwd', sha256: 'a'.repeat(64) } }, path: 'content.path' },
  { name: 'an export CHAP secret reference that is absolute', type: 'exportImage', input: { ...controls.exportImage, chap: { userRef: 'u', secretRef: '/etc/shadow' } }, path: 'chap.secretRef' },
  { name: 'an export initiator that is not an IQN', type: 'exportImage', input: { ...controls.exportImage, initiators: ['not-an-iqn'] }, path: 'initiators' },
  { name: 'an export server name with a slash', type: 'exportImage', input: { ...controls.exportImage, servers: [{ name: 'iscsi1/../x' }] }, path: 'servers.0.name' },
  { name: 'an export portal that is a URL', type: 'exportImage', input: { ...controls.exportImage, servers: [{ name: 'iscsi1', portals: [{ address: 'http://x' }] }] }, path: 'servers.0.portals.0.address' },
  { name: 'the sbps layout with CHAP', type: 'exportImage', input: { ...controls.exportImage, layout: 'sbps', chap: { userRef: 'u', secretRef: 's' } }, path: 'layout', message: /shared by every image/ },
  { name: 'an import source that is both file and s3', type: 'importImage', input: { name: 'c', rootfs: { file: '/a', s3: 's3://b/k' } }, path: 'rootfs' },
  { name: 'an import source s3 URL without a key', type: 'importImage', input: { name: 'c', rootfs: { s3: 's3://bucket' } }, path: 'rootfs' },
  { name: 'an import bucket in upper case', type: 'importImage', input: { ...controls.importImage, bucket: 'Boot-Images' }, path: 'bucket' },
  { name: 'a part size under S3 minimum', type: 'importImage', input: { ...controls.importImage, partSizeMiB: 4 }, path: 'partSizeMiB' },
  { name: 'LUKS1 with 4096-byte sectors', type: 'encryptImage', input: { imageId: 'i', luksVersion: 1, sectorSize: 4096 }, path: 'sectorSize', message: /LUKS1/ },
  { name: 'LUKS version 3', type: 'encryptImage', input: { imageId: 'i', luksVersion: 3 }, path: 'luksVersion' },
  { name: 'a CFS layer with commit and branch', type: 'customizeImage', input: { ...controls.customizeImage, layers: [{ cloneUrl: 'u', playbook: 'p', commit: 'abcdef1', branch: 'main' }] }, path: 'layers.0' },
  { name: 'a CFS configuration name of 61 characters', type: 'customizeImage', input: { imageId: 'i', configuration: 'c'.repeat(61) }, path: 'configuration' },
  { name: 'a rollout with both imageId and manifestPath', type: 'updateBootParameters', input: { ...rollout, manifestPath: 's3://b/m.json' }, path: 'imageId', message: /exactly one/ },
  { name: 'missingHosts create without baseParams', type: 'updateBootParameters', input: { ...rollout, missingHosts: 'create' }, path: 'baseParams' },
  { name: 'a batch size of 2001', type: 'updateBootParameters', input: { ...rollout, batchSize: 2001 }, path: 'batchSize' },
  { name: 'a lifecycle with import and imageId', type: 'imageLifecycle', input: { ...lc, import: { rootfs: { file: '/r' } } }, path: 'import', message: /exactly one/ },
  { name: 'a lifecycle validate without export', type: 'imageLifecycle', input: { ...lc, validate: { nodes: 'nid1', initiator: { driver: 'open-iscsi' } } }, path: 'validate' },
  { name: 'a lifecycle giving the phase its own retry', type: 'imageLifecycle', input: { ...lc, customize: { configuration: 'c', retry: {} } }, path: 'customize', message: /retry/ },
  { name: 'a repair with an empty image list', type: 'repairManifests', input: { imageIds: [] }, path: 'imageIds' },
  { name: 'a repair concurrency of 51', type: 'repairManifests', input: { concurrency: 51 }, path: 'concurrency' },
  { name: 'a retire without servers', type: 'retireImage', input: { imageId: 'i', servers: [] }, path: 'servers' },
  { name: 'a rollback with a node outside xnames', type: 'rollbackBootParameters', input: { changeId: 'c', nodes: 'nid1' }, path: 'nodes' },
];

export const cases = [...generated, ...chosen];

/** The problem lines that name a field (its path, then `:`, a deeper path or imagectl's line number). */
export const linesNaming = (lines: string[], field: string) => lines.filter((line) => [':', '.', ' (line'].some((next) => line.startsWith(`${field}${next}`)));
