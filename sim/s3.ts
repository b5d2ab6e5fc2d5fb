// The simulator reads and writes the same real S3 server the workers use.
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

  /** Streams the object to a file: an image may be larger than a Buffer or readFileSync allow (2 GiB). */
  async download(url: string, file: string): Promise<void> {
    const { bucket, key } = parseS3Url(url);
    const object = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await pipeline(object.Body as Readable, fs.createWriteStream(file));
  }

  /** Streams a file up in one PUT; its etag and the md5 of its bytes. */
  async putFile(url: string, file: string): Promise<{ etag: string; md5: string }> {
    const { bucket, key } = parseS3Url(url);
    const answer = await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: fs.createReadStream(file), ContentLength: fs.statSync(file).size }));
    const md5 = createHash('md5');
    await pipeline(fs.createReadStream(file), md5);
    return { etag: stripQuotes(answer.ETag ?? ''), md5: md5.digest('hex') };
  }

  async delete(url: string): Promise<void> {
    const { bucket, key } = parseS3Url(url);
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  /** Copy, then delete the original (S3 has no rename); the copy's etag. Fails if `from` is missing. */
  async move(from: string, to: string): Promise<string> {
    const source = parseS3Url(from);
    const target = parseS3Url(to);
    const copied = await this.client.send(new CopyObjectCommand({ Bucket: target.bucket, Key: target.key, CopySource: `${source.bucket}/${encodeURIComponent(source.key)}` }));
    await this.delete(from);
    return stripQuotes(copied.CopyObjectResult?.ETag ?? '');
  }
}
