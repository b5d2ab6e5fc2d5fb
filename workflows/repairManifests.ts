// repairManifests: seed 000 steps 1-2 for every IMS image (or a given list). Each manifest is
// checked against S3 and rewritten in place with the real etags; what no rewrite can fix is
// reported per image. A dry run only reports.
import type { ImageRecord } from '../activities/ims/client';
import type { ManifestReport } from '../activities/manifest/activities';
import { RepairManifestsSpec } from '../lib/specs/repairSpec';
import { central } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { trackStatus } from './support/status';

export type ImageVerdict = 'healthy' | 'repaired' | 'needs-repair' | 'unfixable' | 'no-manifest';

export interface ImageRepair {
  imageId: string;
  name?: string;
  verdict: ImageVerdict;
  report?: ManifestReport;
  /** IMS links are write-once (PATCH with another link is a 409), so a stale link etag is reported, not changed. */
  imsLinkEtag?: { recorded: string | null; actual: string | null };
  error?: string;
}

export interface RepairManifestsResult {
  dryRun: boolean;
  counts: Record<ImageVerdict | 'failed', number>;
  images: ImageRepair[];
}

export async function repairManifests(raw: unknown = {}): Promise<RepairManifestsResult> {
  const spec = await parseInput(RepairManifestsSpec, raw, 'repairManifests input');
  const status = trackStatus('repair-manifests');
  status.step('list images');
  const images: ImageRecord[] = spec.imageIds
    ? await Promise.all(spec.imageIds.map((imageId) => attempt(`get image ${imageId}`, (label) => central(label).getImage({ imageId }))))
    : await attempt('list IMS images', (label) => central(label).listImages());

  const results: ImageRepair[] = [];
  for (let start = 0; start < images.length; start += spec.concurrency) {
    status.step(`images ${start + 1}-${Math.min(start + spec.concurrency, images.length)} of ${images.length}`);
    const batch = images.slice(start, start + spec.concurrency);
    results.push(...(await Promise.all(batch.map((image) => repairOne(image, spec.dryRun)))));
  }
  const counts = { healthy: 0, repaired: 0, 'needs-repair': 0, unfixable: 0, 'no-manifest': 0, failed: 0 };
  for (const result of results) counts[result.error ? 'failed' : result.verdict]++;
  status.step('done');
  return { dryRun: spec.dryRun, counts, images: results };
}

async function repairOne(image: ImageRecord, dryRun: boolean): Promise<ImageRepair> {
  const base = { imageId: image.id, name: image.name };
  if (!image.link?.path) return { ...base, verdict: 'no-manifest' };
  const manifestPath = image.link.path;
  try {
    const report = await attempt(`${dryRun ? 'check' : 'repair'} manifest of ${image.id}`, (label) => central(label).repairManifest({ manifestPath, dryRun }));
    const unusable = report.invalid.length > 0 || report.unfixable.length > 0;
    const verdict: ImageVerdict = unusable
      ? 'unfixable'
      : report.etagFaults.length === 0
        ? 'healthy'
        : report.rewritten
          ? 'repaired'
          : 'needs-repair';
    const recorded = image.link.etag ?? null;
    const imsLinkEtag = recorded !== report.manifestEtag ? { recorded, actual: report.manifestEtag } : undefined;
    return { ...base, verdict, report, imsLinkEtag };
  } catch (error) {
    return { ...base, verdict: 'unfixable', error: (error as Error).message };
  }
}
