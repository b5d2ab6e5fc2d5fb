// exportImage: seed 003's `stacker lio export` on every iSCSI server (DESIGN §4, §4b):
//   1. read the image's manifest (etag faults repaired) and pick the artifact to export
//   2. choose the layout: the SBPS marshal's open shared target, or a target of the image's own with
//      its own ACLs and CHAP (the default when either is asked for); its name comes from the image
//   3. on each server, through that server's own agent: note whether the export already exists, stage
//      the artifact into the local cache, verified against the manifest's etag and md5 (a stale etag is
//      repaired, then staged again), and export it read-only with the marshal's LUN identity
// When any server fails or the workflow is cancelled, every server's work is let finish or stop first,
// then each export this run started is removed, so no half-made export stays anywhere.
import { ActivityCancellationType, CancellationScope } from '@temporalio/workflow';
import type { ExportResult } from '../activities/export/driver';
import { defaultTargetPrefix, targetIqnOf, type ExportLayout, type ExportPlacement } from '../lib/exportLayout';
import { FailureType, permanentFailure } from '../lib/failures';
import { iqnLabelOf, iscsiNameProblem } from '../lib/iscsiNames';
import { lunIdentity } from '../lib/lunIdentity';
import { ExportSpec, layoutOf } from '../lib/specs/exportSpec';
import { central, onIscsiServer } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { checkedManifest, imageWithManifest } from './support/manifests';
import { trackStatus } from './support/status';

export interface ExportImageResult {
  imageId: string;
  layout: ExportLayout;
  artifact: { path: string; etag: string; md5: string };
  servers: ExportResult[];
}

/** Staging and exporting report back only once the agent has really stopped, so cleanup runs after them. */
const untilStopped = { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };

export async function exportImage(raw: unknown): Promise<ExportImageResult> {
  const spec = await parseInput(ExportSpec, raw, 'export spec');
  const status = trackStatus('export', { imageId: spec.imageId });

  const readArtifact = async () => {
    const { image, manifestPath } = await imageWithManifest(spec.imageId);
    const { manifest } = await checkedManifest(manifestPath);
    const artifact = manifest.artifacts.find((a) => a.type === spec.artifactType);
    if (!artifact?.md5 || !artifact.link.etag) {
      throw permanentFailure(FailureType.ManifestInvalid, `${manifestPath} has no ${spec.artifactType} artifact with md5 and etag`);
    }
    return { imageName: image.name, manifestPath, path: artifact.link.path, etag: artifact.link.etag, md5: artifact.md5 };
  };

  status.step('read manifest');
  let artifact = await readArtifact();
  const placement = placementOf(spec, artifact.imageName);
  /** Exports this run started on a server where the image was not exported before: removed on failure. */
  const started: { server: string; linkPath: string; linkEtag: string }[] = [];

  const exportOn = async (server: (typeof spec.servers)[number]): Promise<ExportResult> => {
    const agent = onIscsiServer(server.name);
    const iqn = targetIqnOf(placement, server.name);
    const before = await attempt(`list exports on ${server.name}`, (label) => agent(label).listExports());
    const serial = lunIdentity({ linkPath: artifact.path, linkEtag: artifact.etag }).serial;
    const existed = before.exports.some((e) => e.iqn === iqn && e.serial === serial);
    status.step(`stage and export on ${spec.servers.length} server(s)`);
    const staged = await attempt(`stage on ${server.name}`, (label) => onIscsiServer(server.name, untilStopped)(label).stageArtifact({ linkPath: artifact.path, linkEtag: artifact.etag, md5: artifact.md5 }), {
      maxAttemptsByType: { [FailureType.StagedFileCorrupt]: 3 },
      repairs: {
        [FailureType.ManifestEtagFault]: async (_failure, label) => {
          await central(label).repairManifest({ manifestPath: artifact.manifestPath });
          artifact = await readArtifact();
        },
      },
    });
    if (!existed) started.push({ server: server.name, linkPath: artifact.path, linkEtag: artifact.etag });
    return attempt(`export on ${server.name}`, (label) =>
      onIscsiServer(server.name, untilStopped)(label).ensureExport({
        linkPath: artifact.path,
        linkEtag: artifact.etag,
        placement,
        backingFile: staged.path,
        sizeBytes: staged.sizeBytes,
        initiators: spec.initiators,
        chap: spec.chap,
        portals: server.portals ?? [],
      }),
    );
  };

  const outcomes = await Promise.allSettled(spec.servers.map(exportOn));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (!failed) {
    status.step('done');
    const servers = outcomes.map((o) => (o as PromiseFulfilledResult<ExportResult>).value);
    return { imageId: spec.imageId, layout: placement.layout, artifact: { path: artifact.path, etag: artifact.etag, md5: artifact.md5 }, servers };
  }
  status.step(`removing what this run exported on ${started.length} server(s)`);
  const targetIqn = placement.layout === 'per-image' ? placement.targetIqn : undefined;
  await CancellationScope.nonCancellable(() =>
    Promise.all(
      started.map((s) => attempt(`remove partial export on ${s.server}`, (label) => onIscsiServer(s.server)(label).removeExport({ linkPath: s.linkPath, linkEtag: s.linkEtag, targetIqn }))),
    ),
  );
  throw failed.reason;
}

/** The layout asked for (or implied), and for a per-image export its target: `<prefix><name>`. */
function placementOf(spec: ReturnType<typeof ExportSpec.parse>, imageName: string): ExportPlacement {
  if (layoutOf(spec) === 'sbps') return { layout: 'sbps' };
  const targetIqn = `${spec.targetPrefix ?? defaultTargetPrefix}${spec.targetName ?? iqnLabelOf(imageName)}`;
  const problem = iscsiNameProblem(targetIqn);
  if (problem) throw permanentFailure(FailureType.InvalidInput, `the image's target name cannot be used: ${problem}; give targetName`);
  return { layout: 'per-image', targetIqn };
}
