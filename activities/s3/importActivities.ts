// Activities that bring artifacts into S3: upload local files (resumable), digest objects that are
// already there, and abort what a given-up upload left behind.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Context } from '@temporalio/activity';
import type { Readable } from 'node:stream';
import { FailureType, permanentFailure } from '../../lib/failures';
import { parseS3Url } from '../../lib/manifest';
import { describeObjectLayout, objectDigest } from './objectDigest';
import { abortUploads, pendingUploads, uploadFile, type UploadProgress, type UploadResult } from './resumableUpload';

const MiB = 1024 * 1024;

export function createS3ImportActivities(s3: S3Client, settings: { partsInFlight: number } = { partsInFlight: 4 }) {
  return {
    /**
     * Uploads `file` to s3://bucket/key, resuming from `resume` (the last heartbeat of a lost attempt,
     * passed on by the workflow) or this attempt's own heartbeat details. Cancellation aborts the
     * multipart upload; any other failure keeps it for the next attempt to resume.
     */
    async uploadArtifact(input: { file: string; bucket: string; key: string; partSizeMiB: number; resume?: unknown }): Promise<UploadResult> {
      const context = Context.current();
      const resume = (input.resume ?? context.info.heartbeatDetails) as UploadProgress | undefined;
      try {
        return await uploadFile(s3, {
          file: input.file,
          bucket: input.bucket,
          key: input.key,
          partSize: input.partSizeMiB * MiB,
          partsInFlight: settings.partsInFlight,
          resume: resume?.uploadId ? resume : undefined,
          onProgress: (progress) => context.heartbeat(progress),
          signal: context.cancellationSignal,
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
          throw permanentFailure(FailureType.InvalidInput, `${input.file}: ${(error as Error).message}`);
        }
        if (context.cancellationSignal.aborted) await abortUploads(s3, input.bucket, input.key);
        throw error;
      }
    },

    async abortUpload(input: { bucket: string; key: string }): Promise<{ aborted: number }> {
      return { aborted: await abortUploads(s3, input.bucket, input.key) };
    },

    async listPendingUploads(input: { bucket: string; key: string }): Promise<string[]> {
      return pendingUploads(s3, input.bucket, input.key);
    },

    /** For an artifact already in S3 (seed 002): one read gives its md5 and proves S3's ETag. */
    async digestObject(input: { url: string }): Promise<{ etag: string; md5: string; size: number }> {
      const context = Context.current();
      const { bucket, key } = parseS3Url(input.url);
      const layout = await describeObjectLayout(s3, bucket, key);
      const digest = objectDigest(layout.partSizes, layout.multipart);
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: context.cancellationSignal });
      let bytesDone = 0;
      for await (const chunk of object.Body as Readable) {
        digest.update(chunk as Buffer);
        bytesDone += (chunk as Buffer).length;
        context.heartbeat({ bytesDone, bytesTotal: layout.size });
      }
      const { md5, etag } = digest.digest();
      if (etag !== layout.etag || bytesDone !== layout.size) {
        throw permanentFailure(FailureType.ArtifactCorrupt, `${input.url}: S3 reports ETag ${layout.etag} (${layout.size} bytes) but its content hashes to ${etag} (${bytesDone} bytes)`);
      }
      return { etag, md5, size: layout.size };
    },
  };
}
