// encryptImage: the image's rootfs becomes a LUKS container (seed 003's `stacker lio encrypt`),
// uploaded next to it and recorded in its manifest. No device-mapper: cryptsetup writes the header
// and key slots, our encryptor the data area, and cryptsetup/qemu prove the result independently.
// The key stays in the key store; this workflow carries only {keyId, fingerprint}.
//
// The manifest is rewritten in place with the new artifact. IMS links are write-once, so the
// manifest etag IMS recorded goes stale (IMS never checks it; repairManifests reports it).
import { CancellationScope, uuid4 } from '@temporalio/workflow';
import type { EncryptionHostActivities } from '../activities/encryptionHost';
import type { KeyRef } from '../activities/keys/keyStore';
import type { ContainerResult } from '../activities/luks/container';
import type { VerifyReport } from '../activities/luks/verify';
import type { ManifestLink } from '../activities/manifest/activities';
import { FailureType, permanentFailure } from '../lib/failures';
import { MediaType, parseS3Url, rootfsArtifact, s3Url, type Manifest, type ManifestArtifact } from '../lib/manifest';
import { EncryptSpec } from '../lib/specs/encryptSpec';
import { central, labelledActivities } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { checkedManifest, imageWithManifest } from './support/manifests';
import { trackStatus } from './support/status';

/** What the manifest records about a container, besides link, md5 and type. */
export interface LuksRecord extends KeyRef {
  uuid: string;
  luksVersion: 1 | 2;
  sectorSize: number;
  /** The rootfs it encrypts: a new rootfs etag means this container is out of date. */
  source: { path: string; etag: string };
}

export interface EncryptResult {
  imageId: string;
  /** False when the manifest already held a container of this very rootfs. */
  encrypted: boolean;
  artifact: ManifestArtifact & { luks: LuksRecord };
  manifest: ManifestLink;
  verification?: VerifyReport;
  host?: string;
}

const onHost = (taskQueue: string) =>
  labelledActivities<EncryptionHostActivities>({
    taskQueue,
    startToCloseTimeout: '12h',
    // cryptsetup's key derivation (seconds) is the longest stretch without a heartbeat.
    heartbeatTimeout: '30s',
    scheduleToStartTimeout: '10m',
    retry: { maximumAttempts: 1 },
  });

export async function encryptImage(raw: unknown): Promise<EncryptResult> {
  const spec = await parseInput(EncryptSpec, raw, 'encrypt spec');
  const status = trackStatus('encrypt', { imageId: spec.imageId });
  const sectorSize = spec.sectorSize ?? (spec.luksVersion === 2 ? 4096 : 512);

  status.step('check image');
  const { manifestPath } = await imageWithManifest(spec.imageId, 'get image from IMS');
  const readManifest = () => checkedManifest(manifestPath);
  let { manifest } = await readManifest();
  let rootfs = rootfsOf(manifest);

  const existing = manifest.artifacts.find((a) => a.type === MediaType.rootfsLuks) as EncryptResult['artifact'] | undefined;
  if (existing && !spec.replace && existing.luks?.source?.path === rootfs.link.path && existing.luks.source.etag === rootfs.link.etag) {
    status.step('done: already encrypted');
    return { imageId: spec.imageId, encrypted: false, artifact: existing, manifest: (await readManifest()).link };
  }

  status.step('choose encryption host');
  const { host, taskQueue } = await attempt('choose encryption host', (label) => central(label).claimEncryptionHost());
  status.detail('encryptionHost', host);
  const hostActivities = onHost(taskQueue);
  const localFiles: string[] = [];
  try {
    const keyId = spec.keyId ?? (await attempt('create LUKS key', (label) => hostActivities(label).createLuksKey())).keyId;

    status.step('stage rootfs');
    const staged = await attempt('stage rootfs', (label) => hostActivities(label).stageForEncryption({ linkPath: rootfs.link.path, linkEtag: rootfs.link.etag!, md5: rootfs.md5! }), {
      repairs: {
        [FailureType.ManifestEtagFault]: async (_failure, label) => {
          await central(label).repairManifest({ manifestPath });
          ({ manifest } = await central(label).checkManifest({ manifestPath }));
          rootfs = rootfsOf(manifest);
        },
      },
    });
    localFiles.push(staged.path);

    status.step('encrypt');
    const container: ContainerResult = await attempt('encrypt rootfs', async (label) => {
      const destination = `${staged.outputDir}/${spec.imageId}-${uuid4()}.luks`;
      localFiles.push(destination);
      return hostActivities(label).encryptFile({ source: staged.path, destination, keyId, luksVersion: spec.luksVersion, sectorSize, ...(spec.pbkdf2Iterations ? { pbkdf2Iterations: spec.pbkdf2Iterations } : {}) });
    });
    const containerFile = localFiles[localFiles.length - 1];
    status.detail('key', { keyId: container.keyId, fingerprint: container.fingerprint });

    status.step('verify');
    const verification = await attempt('verify container', (label) =>
      hostActivities(label).verifyEncryptedFile({
        container: containerFile,
        source: staged.path,
        keyId: container.keyId,
        uuid: container.uuid,
        luksVersion: spec.luksVersion,
        sectorSize,
        sampleSectors: spec.sampleSectors,
      }),
    );

    status.step('upload');
    const destination = nextTo(rootfs.link.path, 'rootfs.luks');
    const uploaded = await attempt(
      'upload container',
      (label, previous) => hostActivities(label).uploadArtifact({ file: containerFile, ...destination, resume: previous?.heartbeatDetails }),
      { maxAttemptsByType: { [FailureType.ArtifactCorrupt]: 3 } },
    ).catch(async (error) => {
      await CancellationScope.nonCancellable(() => attempt('abort container upload', (label) => central(label).abortUpload(destination)));
      throw error;
    });

    const artifact: EncryptResult['artifact'] = {
      link: { path: s3Url(destination), etag: uploaded.etag, type: 's3' },
      md5: uploaded.md5,
      type: MediaType.rootfsLuks,
      luks: {
        keyId: container.keyId,
        fingerprint: container.fingerprint,
        uuid: container.uuid,
        luksVersion: spec.luksVersion,
        sectorSize,
        source: { path: rootfs.link.path, etag: rootfs.link.etag! },
      },
    };
    status.step('record in manifest');
    // Into the manifest as it is now (a conditional rewrite), not the copy read before the encryption.
    await attempt('record container in manifest', (label) => central(label).putManifestArtifact({ manifestPath, artifact }));
    const checked = await readManifest();
    status.step('done');
    return { imageId: spec.imageId, encrypted: true, artifact, manifest: checked.link, verification, host };
  } finally {
    // The plaintext copy and the container are the host's scratch: gone whether this succeeded or not.
    await CancellationScope.nonCancellable(() => attempt('remove local files', (label) => hostActivities(label).removeLocalFiles({ paths: localFiles }), { maxAttempts: 3 }).catch(() => undefined));
  }
}

function rootfsOf(manifest: Manifest): ManifestArtifact {
  const rootfs = rootfsArtifact(manifest);
  if (!rootfs) throw permanentFailure(FailureType.ManifestInvalid, 'the manifest has no squashfs rootfs artifact');
  if (!rootfs.md5) throw permanentFailure(FailureType.ManifestInvalid, `${rootfs.link.path}: the manifest has no md5 for the rootfs`);
  return rootfs;
}

/** The S3 location beside an artifact: s3://b/<id>/rootfs → {bucket: b, key: <id>/<name>}. */
function nextTo(path: string, name: string) {
  const { bucket, key } = parseS3Url(path);
  return { bucket, key: `${key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : ''}${name}` };
}
