// The dev stack's two S3 servers, for the suites that run against each (describe.each): SeaweedFS,
// and Ceph RGW 16, the S3 of CSM.
import { createS3Client, type S3Settings } from '../../activities/s3/client';
import { devStack, s3Backends, type S3Backend } from '../../dev/config';

export interface S3Server {
  backend: S3Backend;
  settings: S3Settings;
}

export const s3Servers: S3Server[] = s3Backends.map((backend) => ({ backend, settings: { ...devStack.s3, endpoint: devStack.s3.endpoints[backend] } }));

export const s3ClientOf = (server: S3Server) => createS3Client(server.settings);
