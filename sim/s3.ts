// The simulator reads and writes the same real S3 server the workers use.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseS3Url, stripQuotes } from '../lib/manifest';

export class SimS3 {
  constructor(readonly client: S3Client) {}

  async head(url: string): Promise<{ etag: string; size: number } | null> {
    const { bucket, key } = parseS3Url(url);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { etag: stripQuotes(head.ETag ?? ''), size: head.ContentLength ?? 0 };
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
      throw error;
    }
  }

  async getJson(url: string): Promise<unknown> {
    const { bucket, key } = parseS3Url(url);
    const object = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await object.Body!.transformToString());
  }

  async getBytes(url: string): Promise<Buffer> {
    const { bucket, key } = parseS3Url(url);
    const object = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await object.Body!.transformToByteArray());
  }

  async put(url: string, body: Buffer | string, contentType?: string): Promise<string> {
    const { bucket, key } = parseS3Url(url);
    const answer = await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
    return stripQuotes(answer.ETag ?? '');
  }
}
