import { FailureType, permanentFailure } from '../../lib/failures';
import { CsmHttpError } from '../csm/client';
import { callService } from '../csm/failures';
import type { ArtifactLink, ImageRecord, ImsClient } from './client';

/** The metadata key that ties an IMS image to the request that created it, so a re-run adopts it. */
export const requestMetadataKey = 'orchestrator.request';

export function createImsActivities(ims: ImsClient) {
  return {
    /** Finds the image an earlier attempt of this request created, or creates it. */
    async ensureImage(input: { name: string; arch: ImageRecord['arch']; requestId: string }): Promise<{ id: string; adopted: boolean; link?: ArtifactLink }> {
      return callService('IMS', async () => {
        const existing = (await ims.listImages()).find((image) => image.metadata?.[requestMetadataKey] === input.requestId);
        if (existing) return { id: existing.id, adopted: true, link: existing.link ?? undefined };
        const created = await ims.createImage({ name: input.name, arch: input.arch, metadata: { key: requestMetadataKey, value: input.requestId } });
        return { id: created.id, adopted: false };
      });
    },

    async getImage(input: { imageId: string }): Promise<ImageRecord> {
      return callService('IMS', async () => {
        try {
          return await ims.getImage(input.imageId);
        } catch (error) {
          if (error instanceof CsmHttpError && error.status === 404) {
            throw permanentFailure(FailureType.InvalidInput, `IMS has no image ${input.imageId}`, { imageId: input.imageId });
          }
          throw error;
        }
      });
    },

    async listImages(): Promise<ImageRecord[]> {
      return callService('IMS', () => ims.listImages());
    },

    /** Links the manifest; IMS answers 200 again for the identical link and 409 for another. */
    async linkManifest(input: { imageId: string; link: ArtifactLink }): Promise<ImageRecord> {
      return callService('IMS', () => ims.patchImage(input.imageId, { link: input.link }));
    },
  };
}

export type ImsActivities = ReturnType<typeof createImsActivities>;
