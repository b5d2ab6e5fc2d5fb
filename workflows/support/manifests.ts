// Getting an image's manifest and checking it against S3: the first steps of most phases.
import { FailureType, permanentFailure } from '../../lib/failures';
import { central } from './activities';
import { attempt } from './attempt';

/** The IMS image and its manifest's S3 path; ManifestInvalid (non-retryable) when it has no link. */
export async function imageWithManifest(imageId: string, label = 'get image', what = `IMS image ${imageId}`) {
  const image = await attempt(label, (tryLabel) => central(tryLabel).getImage({ imageId }));
  const manifestPath = image.link?.path;
  if (!manifestPath) throw permanentFailure(FailureType.ManifestInvalid, `${what} has no manifest link`);
  return { image, manifestPath };
}

/** The manifest checked against S3; missing, null or stale etags are repaired in place first (a recorded attempt). */
export const checkedManifest = (manifestPath: string, label = 'check manifest') =>
  attempt(label, (tryLabel) => central(tryLabel).checkManifest({ manifestPath }), {
    repairs: { [FailureType.ManifestEtagFault]: (_failure, repairLabel) => central(repairLabel).repairManifest({ manifestPath }) },
  });
