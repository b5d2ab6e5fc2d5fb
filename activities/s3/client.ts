import { S3Client } from '@aws-sdk/client-s3';
import https from 'node:https';
import { readPemSetting } from '../../settings/files';
import { readSettings, type Environment } from '../../settings/load';
import type { GroupSettings } from '../../settings/schema';

export interface S3Settings {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A request whose connection moves no byte for this long fails (retried like a reset); 2 minutes by default. */
  idleTimeoutMs?: number;
  /** PEM of the CAs trusted for an https endpoint, instead of the system CAs. */
  caBundle?: Buffer;
}

export const s3SettingsOf = (s3: GroupSettings<'s3'>): S3Settings => ({
  endpoint: s3.S3_ENDPOINT,
  region: s3.S3_REGION,
  accessKeyId: s3.S3_ACCESS_KEY_ID,
  secretAccessKey: s3.S3_SECRET_ACCESS_KEY,
  caBundle: s3.S3_CA_BUNDLE ? readPemSetting('S3_CA_BUNDLE', s3.S3_CA_BUNDLE) : undefined,
});

/** The S3 settings from the environment (the same variables the dev stack sets). */
export const s3SettingsFromEnv = (env: Environment = process.env): S3Settings => s3SettingsOf(readSettings(['s3'], env).s3);

/** Path-style client, as Ceph RGW in CSM is addressed. */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: true,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    // RGW and SeaweedFS accept the SDK's default CRC32 checksums, but a plain MD5-based ETag
    // is what manifests and SBPS rely on: only send checksums when an operation requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    // The SDK sets no timeout for S3: a stalled answer would hold a streaming activity, whose heartbeats
    // go on while it waits, until its 12-hour deadline.
    requestHandler: {
      socketTimeout: settings.idleTimeoutMs ?? 120_000,
      ...(settings.caBundle ? { httpsAgent: new https.Agent({ ca: settings.caBundle, keepAlive: true }) } : {}),
    },
  });
}
