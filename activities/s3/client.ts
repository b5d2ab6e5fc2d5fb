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
    ...(settings.caBundle ? { requestHandler: { httpsAgent: new https.Agent({ ca: settings.caBundle, keepAlive: true }) } } : {}),
  });
}
