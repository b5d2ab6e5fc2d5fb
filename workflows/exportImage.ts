// exportImage: seed 003's `stacker lio export` on every iSCSI server, the SBPS marshal's way (DESIGN §4):
//   1. read the image's manifest (etag faults repaired) and pick the artifact to export
//   2. on each server, through that server's own agent: stage the artifact into the local cache,
//      verified against the manifest's etag and md5 (a stale etag is repaired, then staged again)
//   3. export it read-only with the marshal's LUN identity, ACLs and CHAP; save the config
// A failure or a cancellation removes the exports this run created, so no half-export remains.
import { CancellationScope } from '@temporalio/workflow';
import type { ExportResult } from '../activities/export/driver';
import { FailureType, permanentFailure } from '../lib/failures';
import { ExportSpec } from '../lib/specs/exportSpec';
import { central, onIscsiServer } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { trackStatus } from './support/status';

export interface ExportImageResult {
  imageId: string;
  artifact: { path: string; etag: string; md5: string };
  servers: ExportResult[];
}

export async function exportImage(raw: unknown): Promise<ExportImageResult> {
  const spec = parseInput(ExportSpec, raw, 'export spec');
  const status = trackStatus('export', { imageId: spec.imageId });

  const readArtifact = async () => {
    const image = await attempt('get image', () => central.getImage({ imageId: spec.imageId }));
    const manifestPath = image.link?.path;
    if (!manifestPath) throw permanentFailure(FailureType.ManifestInvalid, `IMS image ${spec.imageId} has no manifest link`);
    const { manifest } = await attempt('check manifest', () => central.checkManifest({ manifestPath }), {
      repairs: { [FailureType.ManifestEtagFault]: () => central.repairManifest({ manifestPath }) },
    });
    const artifact = manifest.artifacts.find((a) => a.type === spec.artifactType);
    if (!artifact?.md5 || !artifact.link.etag) {
      throw permanentFailure(FailureType.ManifestInvalid, `${manifestPath} has no ${spec.artifactType} artifact with md5 and etag`);
    }
    return { manifestPath, path: artifact.link.path, etag: artifact.link.etag, md5: artifact.md5 };
  };

  status.step('read manifest');
  let artifact = await readArtifact();
  const created: { server: string; linkPath: string; linkEtag: string }[] = [];
  try {
    const servers = await Promise.all(
      spec.servers.map(async (server) => {
        const agent = onIscsiServer(server.name);
        status.step(`stage and export on ${spec.servers.length} server(s)`);
        const staged = await attempt(`stage on ${server.name}`, () => agent.stageArtifact({ linkPath: artifact.path, linkEtag: artifact.etag, md5: artifact.md5 }), {
          maxAttemptsByType: { [FailureType.StagedFileCorrupt]: 3 },
          repairs: {
            [FailureType.ManifestEtagFault]: async () => {
              await central.repairManifest({ manifestPath: artifact.manifestPath });
              artifact = await readArtifact();
            },
          },
        });
        const exported = await attempt(`export on ${server.name}`, () =>
          agent.ensureExport({
            linkPath: artifact.path,
            linkEtag: artifact.etag,
            backingFile: staged.path,
            sizeBytes: staged.sizeBytes,
            initiators: spec.initiators,
            chap: spec.chap,
            portals: server.portals ?? [],
          }),
        );
        if (exported.created) created.push({ server: server.name, linkPath: artifact.path, linkEtag: artifact.etag });
        return exported;
      }),
    );
    status.step('done');
    return { imageId: spec.imageId, artifact: { path: artifact.path, etag: artifact.etag, md5: artifact.md5 }, servers };
  } catch (error) {
    await CancellationScope.nonCancellable(() =>
      Promise.all(created.map((c) => attempt(`remove partial export on ${c.server}`, () => onIscsiServer(c.server).removeExport({ linkPath: c.linkPath, linkEtag: c.linkEtag })))),
    );
    throw error;
  }
}
