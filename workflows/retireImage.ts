// retireImage: takes an image out of service on the iSCSI servers once no node boots it any more.
//   1. read the image's manifest: its artifacts and the LUN identity of each (lib/lunIdentity.ts)
//   2. refuse while BSS still points any node at the image (its S3 prefix, an artifact, a LUN's WWID)
//   3. on each server, through its agent: remove every export of those artifacts, then their staged
//      files in the cache (an export that is still there keeps its file)
// Idempotent: what is already gone is not an error, and a second run removes nothing.
import type { RemoveResult } from '../activities/export/driver';
import type { EvictedFile } from '../activities/export/stagingCache';
import { FailureType, permanentFailure } from '../lib/failures';
import { lunIdentity } from '../lib/lunIdentity';
import { RetireImageSpec } from '../lib/specs/retireSpec';
import { central, onIscsiServer } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { trackStatus } from './support/status';

export interface RetiredOnServer {
  server: string;
  /** What removing the exports changed (LUNs and targets deleted); empty when nothing was exported. */
  exports: string[];
  /** Staged files removed from the cache. */
  cacheFiles: EvictedFile[];
  /** Staged files kept because an export still uses them. */
  keptCacheFiles: string[];
}

export interface RetireImageResult {
  imageId: string;
  dryRun: boolean;
  artifacts: { type: string; path: string; serial: string }[];
  servers: RetiredOnServer[];
}

/** Nodes named in the refusal; the count says how many more. */
const nodesNamed = 20;

export async function retireImage(raw: unknown): Promise<RetireImageResult> {
  const spec = await parseInput(RetireImageSpec, raw, 'retire spec');
  const status = trackStatus('retire', { imageId: spec.imageId });

  status.step('read manifest');
  const image = await attempt('get image', (label) => central(label).getImage({ imageId: spec.imageId }));
  const manifestPath = image.link?.path;
  if (!manifestPath) throw permanentFailure(FailureType.ManifestInvalid, `IMS image ${spec.imageId} has no manifest link: nothing says what its exports are`);
  const manifest = await attempt('read manifest', (label) => central(label).loadManifest({ manifestPath }));
  const links = manifest.artifacts.flatMap((a) => (a.link.etag ? [{ type: a.type, linkPath: a.link.path, linkEtag: a.link.etag }] : []));
  const identities = links.map((link) => ({ type: link.type, ...lunIdentity(link) }));

  status.step('check BSS');
  const booting = await attempt('find nodes booting the image', (label) =>
    central(label).nodesBootingImage({ imageId: spec.imageId, artifactPaths: manifest.artifacts.map((a) => a.link.path), wwids: identities.map((i) => i.wwid), show: nodesNamed }),
  );
  if (booting.count) {
    const more = booting.count > booting.first.length ? ` and ${booting.count - booting.first.length} more` : '';
    throw permanentFailure(
      FailureType.ImageInUse,
      `BSS still boots ${booting.count} node(s) from image ${spec.imageId}: ${booting.first.join(', ')}${more}; point them at another image first`,
      { imageId: spec.imageId, count: booting.count, nodes: booting.first },
    );
  }

  status.step(`${spec.dryRun ? 'list' : 'remove'} exports and staged files on ${spec.servers.length} server(s)`);
  const servers = await Promise.all(
    spec.servers.map(async ({ name }): Promise<RetiredOnServer> => {
      const agent = onIscsiServer(name);
      const exports: string[] = [];
      if (spec.dryRun) {
        const listed = await attempt(`list exports on ${name}`, (label) => agent(label).listExports());
        const serials = new Set(identities.map((i) => i.serial));
        exports.push(...listed.exports.filter((lun) => serials.has(lun.serial)).map((lun) => `would delete LUN ${lun.lun} of ${lun.iqn}`));
      } else {
        for (const identity of identities) {
          const removed: RemoveResult = await attempt(`remove export of ${identity.linkPath} on ${name}`, (label) =>
            agent(label).removeExport({ linkPath: identity.linkPath, linkEtag: identity.linkEtag }),
          );
          exports.push(...removed.changes);
        }
      }
      const dropped = links.length
        ? await attempt(`drop staged files on ${name}`, (label) => agent(label).dropStagedArtifacts({ links: links.map(({ linkPath, linkEtag }) => ({ linkPath, linkEtag })), dryRun: spec.dryRun }))
        : { dropped: [], kept: [] };
      return { server: name, exports, cacheFiles: dropped.dropped, keptCacheFiles: dropped.kept };
    }),
  );
  status.step('done');
  return {
    imageId: spec.imageId,
    dryRun: spec.dryRun,
    artifacts: identities.map((i) => ({ type: i.type, path: i.linkPath, serial: i.serial })),
    servers,
  };
}
