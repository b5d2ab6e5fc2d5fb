// What a CFS image customization session does, for real: unpack the source image's squashfs, apply
// each configuration layer from its git repository, record the layers in /etc/cfs/layers, pack a
// new squashfs, and register it as a new IMS image whose manifest carries S3's real etags.
import { execa } from 'execa';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MediaType, rootfsArtifact, type Manifest } from '../lib/manifest';
import type { Ims } from './ims';
import { applyPlaybook, PlaybookFailed } from './playbook';
import { pack, unpack } from './squashfs';
import type { SimS3 } from './s3';
import type { CfsLayer } from './store';

export type CustomizationOutcome = { ok: true; resultId: string; log: string[] } | { ok: false; log: string[] };

/** `etaglessRootfs`: the result's manifest names the rootfs without its etag (the `etaglessResultsNext` fault). */
const putBytes = async (s3: SimS3, url: string, body: Buffer) => ({ etag: await s3.put(url, body), md5: createHash('md5').update(body).digest('hex') });

export async function customize(ims: Ims, s3: SimS3, sourceId: string, layers: CfsLayer[], resultName: string, options: { etaglessRootfs?: boolean } = {}): Promise<CustomizationOutcome> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-sim-'));
  const log: string[] = [];
  try {
    const source = ims.find(sourceId);
    const manifest = (await s3.getJson(source.link!.path)) as Manifest;
    const rootfs = rootfsArtifact(manifest)!;
    const sourceFile = path.join(work, 'source.squashfs');
    await s3.download(rootfs.link.path, sourceFile);
    const root = path.join(work, 'root');
    await unpack(sourceFile, root, work);

    const applied: string[] = [];
    for (const [index, layer] of layers.entries()) {
      const checkout = path.join(work, `layer-${index}`);
      await execa('git', ['clone', '--quiet', layer.clone_url, checkout]);
      await execa('git', ['-C', checkout, 'checkout', '--quiet', layer.commit ?? layer.branch ?? 'HEAD']);
      const commit = (await execa('git', ['-C', checkout, 'rev-parse', 'HEAD'])).stdout.trim();
      log.push(`layer ${layer.name ?? index}: ${layer.clone_url} @ ${commit}, playbook ${layer.playbook}`);
      try {
        log.push(...applyPlaybook(root, path.join(checkout, layer.playbook)));
      } catch (error) {
        if (!(error instanceof PlaybookFailed) && (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        log.push(`fatal: layer ${layer.name ?? index}: ${(error as Error).message}`);
        return { ok: false, log };
      }
      applied.push(`${layer.name ?? `layer-${index}`} ${layer.clone_url} ${commit} ${layer.playbook}`);
    }
    fs.mkdirSync(path.join(root, 'etc/cfs'), { recursive: true });
    fs.appendFileSync(path.join(root, 'etc/cfs/layers'), applied.map((line) => `${line}\n`).join(''));

    const resultFile = path.join(work, 'result.squashfs');
    await pack(root, resultFile, work);
    const resultId = randomUUID();
    const artifacts = [];
    for (const artifact of manifest.artifacts) {
      const isRootfs = artifact === rootfs;
      const name = isRootfs ? 'rootfs' : artifact.type === MediaType.kernel ? 'kernel' : artifact.type === MediaType.initrd ? 'initrd' : path.basename(artifact.link.path);
      const url = `s3://boot-images/${resultId}/${name}`;
      const { etag, md5 } = isRootfs ? await s3.putFile(url, resultFile) : await putBytes(s3, url, await s3.getBytes(artifact.link.path));
      const link = isRootfs && options.etaglessRootfs ? { path: url, type: 's3' } : { path: url, etag, type: 's3' };
      artifacts.push({ link, md5, type: artifact.type });
    }
    const manifestUrl = `s3://boot-images/${resultId}/manifest.json`;
    const manifestEtag = await s3.put(manifestUrl, JSON.stringify({ version: '1.0', created: new Date().toISOString(), artifacts }, null, 2), 'application/json');
    await ims.create({ name: resultName, arch: source.arch, link: { path: manifestUrl, etag: manifestEtag, type: 's3' } }, resultId);
    return { ok: true, resultId, log };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
