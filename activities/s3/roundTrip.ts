import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';

export interface RoundTripResult {
  etag: string;
  bytesWritten: number;
  bytesRead: number;
  sha256Written: string;
  sha256Read: string;
}

/** Writes an object and reads it back: the cheapest proof that a worker reaches S3 for real. */
export function createS3RoundTripActivities(s3: S3Client) {
  return {
    async roundTripObject(input: { bucket: string; key: string; text: string }): Promise<RoundTripResult> {
      const body = Buffer.from(input.text);
      const put = await s3.send(new PutObjectCommand({ Bucket: input.bucket, Key: input.key, Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: input.key }));
      const read = Buffer.from(await got.Body!.transformToByteArray());
      return {
        etag: (put.ETag ?? '').replaceAll('"', ''),
        bytesWritten: body.length,
        bytesRead: read.length,
        sha256Written: sha256(body),
        sha256Read: sha256(read),
      };
    },
  };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
