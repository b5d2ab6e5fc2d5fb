// The few S3 operations manifest checks need, on s3:// locations.
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, NotFound, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseS3Url, stripQuotes } from '../../lib/manifest';

export class ObjectStore {
  constructor(private readonly s3: S3Client) {}

  /** The object's ETag without quotes and its size, or null when there is no such object. */
  async head(url: string): Promise<{ etag: string; size: number; metadata: Record<string, string> } | null> {
    const { bucket, key } = parseS3Url(url);
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { etag: stripQuotes(head.ETag ?? ''), size: head.ContentLength ?? 0, metadata: head.Metadata ?? {} };
    } catch (error) {
      if (error instanceof NotFound || statusOf(error) === 404) return null;
      throw error;
    }
  }

  async delete(url: string): Promise<void> {
    const { bucket, key } = parseS3Url(url);
    await this.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  /** The s3:// URLs of every object whose key starts with the prefix's. */
  async list(prefixUrl: string): Promise<string[]> {
    const { bucket, key: prefix } = parseS3Url(prefixUrl);
    const urls: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      urls.push(...(page.Contents ?? []).map((object) => `s3://${bucket}/${object.Key}`));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return urls;
  }

  async getText(url: string): Promise<string> {
    const { bucket, key } = parseS3Url(url);
    const object = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return object.Body!.transformToString();
  }

  /**
   * The object's text and the ETag of that very version (for a conditional rewrite), or null when there
   * is none. An object over `maxBytes` is not read (ObjectTooLarge).
   */
  async getVersioned(url: string, { maxBytes = Infinity } = {}): Promise<{ text: string; etag: string } | null> {
    const { bucket, key } = parseS3Url(url);
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if ((object.ContentLength ?? 0) > maxBytes) {
        (object.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new ObjectTooLarge(url, object.ContentLength!, maxBytes);
      }
      return { text: await object.Body!.transformToString(), etag: stripQuotes(object.ETag ?? '') };
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  /**
   * The object's text and ETag, or 'unchanged' when its ETag is still `etag` (a conditional GET: S3
   * answers 304 without the body), or null when there is none. A server that ignores the condition
   * answers 200 with the object, whose ETag tells whether it changed.
   */
  async getUnlessEtag(url: string, etag: string | undefined): Promise<{ text: string; etag: string } | 'unchanged' | null> {
    const { bucket, key } = parseS3Url(url);
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(etag ? { IfNoneMatch: `"${etag}"` } : {}) }));
      const current = stripQuotes(object.ETag ?? '');
      if (etag && current === etag) {
        await object.Body!.transformToString();
        return 'unchanged';
      }
      return { text: await object.Body!.transformToString(), etag: current };
    } catch (error) {
      if (statusOf(error) === 404) return null;
      if (etag && statusOf(error) === 304) return 'unchanged';
      throw error;
    }
  }

  /**
   * Writes JSON and returns the ETag S3 reports for it afterwards. With `ifMatch` (the etag read) the
   * write happens only if nobody wrote since (S3 conditional PUT): ObjectChanged otherwise.
   */
  putJson(url: string, value: unknown, precondition: { ifMatch?: string; ifAbsent?: boolean } = {}): Promise<string> {
    return this.putText(url, jsonText(value), 'application/json', precondition);
  }

  /** As putJson, for text already serialized (`jsonText` for JSON). */
  async putText(url: string, text: string, contentType: string, precondition: { ifMatch?: string; ifAbsent?: boolean } = {}): Promise<string> {
    const { bucket, key } = parseS3Url(url);
    const put = (ifMatch?: string) =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: text,
          ContentType: contentType,
          ...(ifMatch ? { IfMatch: ifMatch } : {}),
          ...(precondition.ifAbsent ? { IfNoneMatch: '*' } : {}),
        }),
      );
    try {
      // The quoted entity tag, as RFC 9110 and SeaweedFS want it. Ceph RGW 16 compares the bare hex and
      // answers 412 to the quoted form: a 412 is tried once more bare. Either way the write happens only
      // if the server matched the etag that was read.
      await put(precondition.ifMatch && `"${precondition.ifMatch}"`).catch((error: unknown) => {
        if (precondition.ifMatch && statusOf(error) === 412) return put(precondition.ifMatch);
        throw error;
      });
    } catch (error) {
      if (statusOf(error) === 412) throw new ObjectChanged(url);
      throw error;
    }
    const head = await this.head(url);
    if (!head) throw new Error(`${url} is missing right after it was written`);
    return head.etag;
  }
}

/** JSON as putJson writes it: indented, for the people who read these objects. */
export const jsonText = (value: unknown) => JSON.stringify(value, null, 2) + '\n';

/** An object larger than the caller reads. */
export class ObjectTooLarge extends Error {
  constructor(readonly url: string, readonly size: number, readonly maxBytes: number) {
    super(`${url} is ${size} bytes, more than the ${maxBytes} read`);
    this.name = 'ObjectTooLarge';
  }
}

/** A conditional write lost a race: the object changed since it was read. */
export class ObjectChanged extends Error {
  constructor(readonly url: string) {
    super(`${url} changed since it was read`);
    this.name = 'ObjectChanged';
  }
}

const statusOf = (error: unknown) => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
