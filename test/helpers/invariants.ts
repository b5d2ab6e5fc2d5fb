// What must hold after a lifecycle, however it was interrupted: checked against the real stack
// (the simulator's IMS and BSS, S3, the tgt agents' own view, the temporary places on this host).
// Each check returns the problems it found; a clean run returns none.
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { targetDriverFromEnv } from '../../activities/export/activities';
import { pendingUploads } from '../../activities/s3/multipart';
import { devStack, stackEnvironment } from '../../dev/config';
import { agentEnvironment } from '../../dev/services';
import { lunIdentity } from '../../lib/lunIdentity';
import { Manifest, parseS3Url, stripQuotes } from '../../lib/manifest';
import type { LifecycleSummary } from '../../workflows/imageLifecycle';
import { keyForms } from './history';
import { ims, s3 } from './images';

export interface BssEntry {
  kernel?: string;
  initrd?: string;
  params?: string;
}

export interface LifecycleExpectations {
  summary: LifecycleSummary;
  /** The iSCSI servers the image must be exported on, once each. */
  servers: string[];
  /** Every node of the rollout with the entry BSS must hold for it now. */
  bss: Record<string, BssEntry>;
  /** Reads the nodes' entries from BSS. */
  readBss(nodes: string[]): Promise<Record<string, BssEntry | undefined>>;
  /** Scratch directories of the run's own workers (their LUKS_WORK_DIR, INITIATOR_WORK_DIR), besides the stack's. */
  workDirs?: string[];
}

export const invariantNames = ['one IMS image per image', 'no orphan multipart upload', 'one export per server', 'BSS as expected', 'manifests whole', 'no secret or plaintext left'] as const;

/** Every problem found, each naming the invariant it breaks; empty when all hold. */
export async function lifecycleViolations(expect: LifecycleExpectations): Promise<string[]> {
  const checks = [imsImages, multipartUploads, exportsPerServer, bssEntries, manifestArtifacts, leftInTemporaryPlaces];
  const found = await Promise.all(checks.map((check) => check(expect)));
  return found.flat();
}

/** The IMS images the run meant to make: the import's, and the customization's result. */
async function imsImages({ summary }: LifecycleExpectations): Promise<string[]> {
  const images = await ims.listImages();
  const intended = [summary.phases.import?.imageId, summary.phases.customize?.resultImageId].filter((id): id is string => Boolean(id));
  const problems: string[] = [];
  for (const id of intended) {
    const name = images.find((image) => image.id === id)?.name;
    if (!name) {
      problems.push(`one IMS image per image: ${id} is not in IMS`);
      continue;
    }
    const same = images.filter((image) => image.name === name);
    if (same.length !== 1) problems.push(`one IMS image per image: ${same.length} IMS images are named ${name} (${same.map((i) => i.id).join(', ')})`);
  }
  return problems;
}

/** The S3 "directories" of the run's images: each artifact's and each manifest's. */
function imagePrefixes({ summary }: LifecycleExpectations): { bucket: string; prefix: string }[] {
  const paths = [summary.manifest.path, summary.phases.import?.manifest.path, summary.phases.customize?.manifest.path, ...(summary.phases.import?.artifacts ?? []).map((a) => a.link.path), summary.phases.encrypt?.artifact.link.path];
  const prefixes = new Map<string, { bucket: string; prefix: string }>();
  for (const url of paths.filter((p): p is string => Boolean(p))) {
    const { bucket, key } = parseS3Url(url);
    const prefix = key.slice(0, key.lastIndexOf('/') + 1);
    prefixes.set(`${bucket}/${prefix}`, { bucket, prefix });
  }
  return [...prefixes.values()];
}

async function multipartUploads(expect: LifecycleExpectations): Promise<string[]> {
  const problems: string[] = [];
  for (const { bucket, prefix } of imagePrefixes(expect)) {
    for (const upload of await pendingUploads(s3, bucket, prefix)) problems.push(`no orphan multipart upload: s3://${bucket}/${upload.key} has unfinished upload ${upload.uploadId}`);
  }
  return problems;
}

/** The agents' own record of what tgtd serves: the exported artifact exactly once per server, read-only. */
async function exportsPerServer({ summary, servers }: LifecycleExpectations): Promise<string[]> {
  const exported = summary.phases.export;
  if (!exported) return servers.length ? ['one export per server: the run has no export phase'] : [];
  const serial = lunIdentity({ linkPath: exported.artifact.path, linkEtag: exported.artifact.etag }).serial;
  const problems: string[] = [];
  for (const server of devStack.iscsiServers.filter((s) => servers.includes(s.name))) {
    const luns = (await targetDriverFromEnv(server.name, agentEnvironment(server)).listExports()).filter((lun) => lun.serial === serial);
    const expectedIqn = exported.servers.find((s) => s.server === server.name)?.iqn;
    if (luns.length !== 1) problems.push(`one export per server: ${server.name} serves ${exported.artifact.path} ${luns.length} times (${luns.map((l) => `${l.iqn} LUN ${l.lun}`).join(', ')})`);
    for (const lun of luns) {
      if (lun.iqn !== expectedIqn) problems.push(`one export per server: ${server.name} serves it at ${lun.iqn}, the run reported ${expectedIqn}`);
      if (!lun.readonly) problems.push(`one export per server: ${server.name} serves ${lun.iqn} LUN ${lun.lun} writable`);
    }
  }
  return problems;
}

async function bssEntries({ bss, readBss }: LifecycleExpectations): Promise<string[]> {
  const nodes = Object.keys(bss);
  const actual = await readBss(nodes);
  const problems: string[] = [];
  for (const node of nodes) {
    const entry = actual[node];
    for (const field of ['kernel', 'initrd', 'params'] as const) {
      if (entry?.[field] !== bss[node][field]) problems.push(`BSS as expected: ${node} ${field} is ${JSON.stringify(entry?.[field])}, expected ${JSON.stringify(bss[node][field])}`);
    }
  }
  return problems;
}

/** Every artifact of every manifest of the run is whole in S3: S3's ETag is the manifest's, its bytes hash to the manifest's md5. */
async function manifestArtifacts({ summary }: LifecycleExpectations): Promise<string[]> {
  const manifests = new Set([summary.manifest.path, summary.phases.import?.manifest.path, summary.phases.customize?.manifest.path].filter((p): p is string => Boolean(p)));
  const problems: string[] = [];
  for (const manifestPath of manifests) {
    const manifest = Manifest.parse(JSON.parse(await readObject(manifestPath).then((body) => body.toString('utf8'))));
    for (const artifact of manifest.artifacts) {
      const { bucket, key } = parseS3Url(artifact.link.path);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch((error: Error) => error);
      if (head instanceof Error) {
        problems.push(`manifests whole: ${manifestPath} names ${artifact.link.path}, which S3 does not have (${head.name})`);
        continue;
      }
      if (stripQuotes(head.ETag ?? '') !== artifact.link.etag) problems.push(`manifests whole: ${artifact.link.path} has ETag ${head.ETag} in S3, ${artifact.link.etag} in ${manifestPath}`);
      if (artifact.md5) {
        const md5 = createHash('md5').update(await readObject(artifact.link.path)).digest('hex');
        if (md5 !== artifact.md5) problems.push(`manifests whole: ${artifact.link.path} (${head.ContentLength} bytes) hashes to md5 ${md5}, ${manifestPath} says ${artifact.md5}`);
      }
    }
  }
  return problems;
}

async function readObject(url: string): Promise<Buffer> {
  const { bucket, key } = parseS3Url(url);
  return Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
}

/**
 * Where workers and agents keep scratch: the encryption host's work dir (staging, containers, key
 * scratch), the node checks' work dir, the agents' staging caches, the key store's directory,
 * /dev/shm and the initiator helpers' directories under the temporary directory.
 */
export function temporaryPlaces(): string[] {
  const env = stackEnvironment();
  const tmp = os.tmpdir();
  const helpers = fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((name) => name.startsWith('initiator-tools-')).map((name) => path.join(tmp, name)) : [];
  return [env.LUKS_WORK_DIR, env.INITIATOR_WORK_DIR, env.LUKS_KEY_DIR, ...devStack.iscsiServers.map((s) => agentEnvironment(s).ISCSI_CACHE_DIR), '/dev/shm', ...helpers];
}

const keyStoreFile = /^luks-[0-9a-f-]{36}\.key$/;
/** Larger files are staged images, never a key: only their md5 is compared, and only at the plaintext's size. */
const keyScanLimit = 1024 * 1024;

/**
 * The run's LUKS key in no file but its own in the key store (raw, hex or base64), no secret file
 * (`.secret-*`: a LUKS or volume key handed to cryptsetup) at all, nothing but key files in the key store, no copy of the run's plaintext rootfs anywhere (staged copies removed), and
 * no partial file (`.partial-*`, an interrupted download or encryption) of the run's artifacts.
 */
async function leftInTemporaryPlaces({ summary, workDirs = [] }: LifecycleExpectations): Promise<string[]> {
  const encrypted = summary.phases.encrypt?.artifact;
  const keyDir = stackEnvironment().LUKS_KEY_DIR;
  const key = encrypted ? fs.readFileSync(path.join(keyDir, `${encrypted.luks.keyId}.key`)) : undefined;
  const needles = key ? [key, ...keyForms(key).map((form) => Buffer.from(form))].filter((n) => n.length >= 16) : [];
  const plaintext = encrypted ? await plaintextOf(encrypted.luks.source.path, summary) : undefined;
  const serials = runSerials(summary);
  const problems: string[] = [];
  for (const place of [...temporaryPlaces(), ...workDirs]) {
    for (const file of filesUnder(place)) {
      const name = path.basename(file);
      if (name.startsWith('.secret-')) problems.push(`no secret or plaintext left: ${file} is a secret file (a key given to cryptsetup) nobody removed`);
      if (name.includes('.partial-') && (serials.some((serial) => name.startsWith(serial)) || (summary.imageId && name.includes(summary.imageId)))) {
        problems.push(`no secret or plaintext left: ${file} is a partial file of the run's artifacts`);
      }
      if (place === keyDir && path.dirname(file) === keyDir && keyStoreFile.test(path.basename(file))) continue;
      if (place === keyDir) problems.push(`no secret or plaintext left: ${file} is not a key file of the key store (a temporary file left?)`);
      const size = fs.statSync(file).size;
      if (plaintext && size === plaintext.size && md5File(file) === plaintext.md5) problems.push(`no secret or plaintext left: ${file} is a copy of the plaintext rootfs ${encrypted!.luks.source.path}`);
      if (needles.length && size <= keyScanLimit) {
        const body = fs.readFileSync(file);
        if (needles.some((needle) => body.includes(needle))) problems.push(`no secret or plaintext left: ${file} holds the LUKS key ${encrypted!.luks.keyId}`);
      }
    }
  }
  return problems;
}

/** The staged-file names (`<serial>.img`) of the run's rootfs and container. */
function runSerials(summary: LifecycleSummary): string[] {
  const links = [summary.phases.encrypt?.artifact.luks.source, summary.phases.encrypt && { path: summary.phases.encrypt.artifact.link.path, etag: summary.phases.encrypt.artifact.link.etag }];
  return links.filter((l): l is { path: string; etag: string } => Boolean(l?.etag)).map((l) => lunIdentity({ linkPath: l.path, linkEtag: l.etag }).serial);
}

async function plaintextOf(rootfsPath: string, summary: LifecycleSummary): Promise<{ size: number; md5: string }> {
  const manifest = Manifest.parse(JSON.parse((await readObject(summary.manifest.path)).toString('utf8')));
  const artifact = manifest.artifacts.find((a) => a.link.path === rootfsPath);
  const { bucket, key } = parseS3Url(rootfsPath);
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { size: head.ContentLength!, md5: artifact?.md5 ?? '' };
}

function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return []; // not there (or not ours to read): nothing left in it
  }
  return names.map((name) => path.join(dir, name)).filter((file) => {
    try {
      return fs.lstatSync(file).isFile();
    } catch {
      return false; // removed while we looked
    }
  });
}

function md5File(file: string): string {
  return createHash('md5').update(fs.readFileSync(file)).digest('hex');
}
