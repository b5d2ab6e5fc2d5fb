// Looks for secrets where they must never be (DESIGN §6): workflow histories as `temporal workflow
// show -o json` prints them, the stack's logs, S3 objects. Each secret is looked for in every form
// given (raw, hex, base64...), as bytes, so binary objects are scanned alike.
import { ListObjectsV2Command, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { devStack } from '../../dev/config';

export interface Secret {
  name: string;
  forms: (string | Buffer)[];
}

export interface Source {
  name: string;
  data: string | Buffer;
}

export interface Finding {
  secret: string;
  source: string;
  offset: number;
}

export function findSecrets(secrets: Secret[], sources: Source[]): Finding[] {
  const findings: Finding[] = [];
  for (const source of sources) {
    const data = Buffer.isBuffer(source.data) ? source.data : Buffer.from(source.data);
    for (const secret of secrets) {
      for (const form of secret.forms) {
        const offset = data.indexOf(form);
        if (offset >= 0) findings.push({ secret: secret.name, source: source.name, offset });
      }
    }
  }
  return findings;
}

/** A text secret as it is, and in the encodings a log or a payload could carry it. */
export const textForms = (value: string): string[] => [value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('hex')];

/** Payload bytes are base64 in the CLI's JSON: the decoded bytes of every `data` field, beside the JSON itself. */
function decodedPayloads(value: unknown): Buffer[] {
  if (Array.isArray(value)) return value.flatMap(decodedPayloads);
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, field]) => (key === 'data' && typeof field === 'string' ? [Buffer.from(field, 'base64')] : decodedPayloads(field)));
}

/**
 * The history of every workflow whose id starts with `prefix` (a lifecycle and its children), as the
 * temporal CLI shows it, its payloads decoded.
 */
export async function historiesOf(client: Client, prefix: string): Promise<Source[]> {
  const sources: Source[] = [];
  for await (const workflow of client.workflow.list({ query: `WorkflowId STARTS_WITH "${prefix}"` })) {
    const shown = await execa('temporal', ['workflow', 'show', '--address', devStack.temporal.address, '--namespace', devStack.temporal.namespace, '-w', workflow.workflowId, '-r', workflow.runId, '-o', 'json']);
    sources.push({ name: `history of ${workflow.workflowId}`, data: Buffer.concat([Buffer.from(shown.stdout), ...decodedPayloads(JSON.parse(shown.stdout))]) });
  }
  return sources;
}

/** Every file of a directory tree. */
export function filesUnder(dir: string): Source[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .map((file) => ({ name: file, data: fs.readFileSync(file) }));
}

/** Every object of the buckets written since `since`. */
export async function objectsSince(s3: S3Client, buckets: string[], since: Date): Promise<Source[]> {
  const sources: Source[] = [];
  for (const Bucket of buckets) {
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken }));
      for (const object of page.Contents ?? []) {
        if (!object.LastModified || object.LastModified < since) continue;
        const body = await s3.send(new GetObjectCommand({ Bucket, Key: object.Key }));
        sources.push({ name: `s3://${Bucket}/${object.Key}`, data: Buffer.from(await body.Body!.transformToByteArray()) });
      }
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
  }
  return sources;
}
