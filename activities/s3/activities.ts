// Activities that bring artifacts into S3 and read them back: upload local files (resumable),
// digest objects already there, small JSON objects (manifests), and clean-up of unfinished uploads.
//
// Abort rule for multipart uploads: an attempt that fails, times out or is stopped by a worker
// shutdown keeps its upload, so the next attempt resumes it (from the heartbeat details the
// workflow passes on as `resume`, or this activity's own). The upload is aborted only when the
// activity is cancelled on request (the workflow was cancelled) and, on the give-up path, by the
// workflow calling `abortUpload`; both leave no unfinished upload of the key in the bucket.
import { type S3Client } from '@aws-sdk/client-s3';
import { Context } from '@temporalio/activity';
import fs from 'node:fs/promises';
import { FailureType, permanentFailure } from '../../lib/failures';
import { parseS3Url, type S3Location } from '../../lib/manifest';
import { ObjectStore } from '../manifest/objectStore';
import { resolveUnderRoots } from '../import/importRoots';
import { digestObject } from './digestObject';
import { countUploadedBytes } from '../support/metrics';
import { progressHeartbeats } from '../support/heartbeats';
import { abortUploads, pendingUploads, type PendingUpload } from './multipart';
import { MiB, minPartSize, uploadFile, UploadProgress, type UploadResult } from './upload';

export interface S3ImportSettings {
  /**
   * Parts on the wire at once. A killed worker sends again at most the parts that were in flight,
   * so two keep that under two parts; more did not upload faster on the dev stack (bench/import.ts).
   */
  partsInFlight: number;
  /** 16 MiB: as fast as 64 MiB in bench/import.ts, a quarter of the memory and of what a crash re-sends. */
  partSizeMiB: number;
}

export const defaultPartsInFlight = 2;
export const defaultS3ImportSettings: S3ImportSettings = { partsInFlight: defaultPartsInFlight, partSizeMiB: 16 };

export interface UploadArtifactInput {
  file: string;
  bucket: string;
  key: string;
  partSizeMiB?: number;
  /** The last heartbeat details of an earlier attempt, passed on by the workflow; ignored unless they describe an upload. */
  resume?: unknown;
}

/** `importRoots`: uploads read only files under these (the orchestrator's imports); none for a host's own scratch files. */
export function createS3ImportActivities(s3: S3Client, settings: Partial<S3ImportSettings> = {}, importRoots?: string[]) {
  const { partsInFlight, partSizeMiB: defaultPartSizeMiB } = { ...defaultS3ImportSettings, ...settings };
  const store = new ObjectStore(s3);

  return {
    /** Uploads a local file; its md5 and S3's ETag (checked against the one computed locally). */
    async uploadArtifact(input: UploadArtifactInput): Promise<UploadResult> {
      const partSize = (input.partSizeMiB ?? defaultPartSizeMiB) * MiB;
      if (!Number.isInteger(partSize) || partSize < minPartSize) {
        throw permanentFailure(FailureType.InvalidInput, `part size of ${input.partSizeMiB} MiB: S3 needs at least ${minPartSize / MiB} MiB`);
      }
      const { bucket, key } = location(`s3://${input.bucket}/${input.key}`);
      const file = importRoots ? await resolveUnderRoots(input.file, importRoots) : input.file;
      await checkReadableFile(file);

      const context = Context.current();
      const resume = UploadProgress.safeParse(input.resume ?? context.info.heartbeatDetails).data;
      const heartbeats = progressHeartbeats<UploadProgress>(context, { initial: resume });
      try {
        const result = await uploadFile(s3, {
          file,
          bucket,
          key,
          partSize,
          partsInFlight,
          resume,
          onProgress: heartbeats.report,
          signal: context.cancellationSignal,
        });
        countUploadedBytes(result.size);
        return result;
      } catch (error) {
        if (context.cancellationDetails?.cancelRequested) await abortUploads(s3, bucket, key);
        throw error;
      } finally {
        heartbeats.stop();
      }
    },

    /** Aborts every unfinished multipart upload of the key (the give-up path of an upload). */
    async abortUpload(input: { bucket: string; key: string }): Promise<{ aborted: number }> {
      const { bucket, key } = location(`s3://${input.bucket}/${input.key}`);
      return { aborted: await abortUploads(s3, bucket, key) };
    },

    /** For an artifact already in S3 (seed 002): one read gives its md5 and proves S3's ETag. */
    async digestObject(input: { url: string }): Promise<{ etag: string; md5: string; size: number; parts: number }> {
      const { bucket, key } = location(input.url);
      const context = Context.current();
      const heartbeats = progressHeartbeats<{ bytesDone: number; bytesTotal: number }>(context, { minIntervalMs: 1_000 });
      try {
        return await digestObject(s3, { bucket, key, onProgress: heartbeats.report, signal: context.cancellationSignal });
      } finally {
        heartbeats.stop();
      }
    },

    /** S3's ETag (without quotes) and size, or null when there is no such object. */
    async headObject(input: { url: string }): Promise<{ etag: string; size: number } | null> {
      location(input.url);
      const head = await store.head(input.url);
      return head && { etag: head.etag, size: head.size };
    },

    /** Writes JSON (a manifest) and returns the ETag S3 reports for it afterwards. */
    async putJsonObject(input: { url: string; value: unknown }): Promise<{ etag: string }> {
      location(input.url);
      return { etag: await store.putJson(input.url, input.value) };
    },

    /** Unfinished multipart uploads in a bucket (under a prefix): what a given-up upload would leave. */
    async listOrphanUploads(input: { bucket: string; prefix?: string }): Promise<PendingUpload[]> {
      return pendingUploads(s3, input.bucket, input.prefix);
    },
  };
}

function location(url: string): S3Location {
  try {
    return parseS3Url(url);
  } catch (error) {
    throw permanentFailure(FailureType.InvalidInput, (error as Error).message);
  }
}

async function checkReadableFile(file: string): Promise<void> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw permanentFailure(FailureType.InvalidInput, `${file} is not a regular file`);
    await fs.access(file, fs.constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!code) throw error;
    throw permanentFailure(FailureType.InvalidInput, `${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : (error as Error).message}`);
  }
}
