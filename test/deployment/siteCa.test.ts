// S3 and the CSM gateway behind https with certificates of a site's own CA: S3_CA_BUNDLE and
// CSM_CA_BUNDLE make the workers trust it, and without them the same endpoints are refused.
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsmClient, csmSettingsFromEnv } from '../../activities/csm/client';
import { createS3Client, s3SettingsFromEnv } from '../../activities/s3/client';
import { devStack, stackEnvironment } from '../../dev/config';
import { makeCertificates, startHttpsFrontend, type TlsFiles } from '../helpers/tlsFrontend';

const host = `${process.env.DEV_STACK_NET ?? '127.0.0'}.101`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'site-ca-'));
let files: TlsFiles;
const frontends: { url: string; close(): Promise<void> }[] = [];
const hostPort = (url: string) => ({ host: new URL(url).hostname, port: Number(new URL(url).port) });

beforeAll(async () => {
  files = await makeCertificates(dir, host);
  frontends.push(await startHttpsFrontend({ host, port: 8443, upstream: hostPort(devStack.s3.endpoint), files }));
  frontends.push(await startHttpsFrontend({ host, port: 8444, upstream: hostPort(devStack.csm.url), files }));
});
afterAll(async () => {
  await Promise.all(frontends.map((frontend) => frontend.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a site CA', () => {
  it('S3_CA_BUNDLE: the S3 client trusts the https endpoint it signed, and only with it', async () => {
    const env = { ...stackEnvironment(), S3_ENDPOINT: frontends[0].url };
    const head = new HeadBucketCommand({ Bucket: 'boot-images' });
    await expect(createS3Client(s3SettingsFromEnv({ ...env, S3_CA_BUNDLE: files.ca })).send(head)).resolves.toBeDefined();
    await expect(createS3Client(s3SettingsFromEnv(env)).send(head)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it('CSM_CA_BUNDLE: the CSM client gets its token and answers through the gateway it signed, and only with it', async () => {
    const env = { ...stackEnvironment(), CSM_API_URL: frontends[1].url };
    await expect(new CsmClient(csmSettingsFromEnv({ ...env, CSM_CA_BUNDLE: files.ca })).request('GET', '/apis/ims/v3/images')).resolves.toBeInstanceOf(Array);
    await expect(new CsmClient(csmSettingsFromEnv(env)).request('GET', '/apis/ims/v3/images')).rejects.toMatchObject({ status: 0 });
  });

  it('a CA bundle that cannot be read is a settings error naming the variable', () => {
    expect(() => s3SettingsFromEnv({ ...stackEnvironment(), S3_CA_BUNDLE: path.join(dir, 'missing.pem') })).toThrow(/S3_CA_BUNDLE: cannot read .*ENOENT/);
    expect(() => csmSettingsFromEnv({ ...stackEnvironment(), CSM_CA_BUNDLE: 'ca.pem' })).toThrow('CSM_CA_BUNDLE: must be an absolute path');
  });
});
