// What an import takes: the single source of its input types and error messages.
import { z } from 'zod';
import { parseS3Url } from '../manifest';
import { retryField } from './retrySpec';

export const S3UrlField = z.string().refine(
  (value) => {
    try {
      parseS3Url(value);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be an s3://bucket/key URL' },
);

export const ArtifactSource = z.union([
  z.object({ file: z.string().min(1, 'file path is empty') }).strict(),
  z.object({ s3: S3UrlField }).strict(),
], { error: 'give either {"file": "/local/path"} or {"s3": "s3://bucket/key"}' });
export type ArtifactSource = z.infer<typeof ArtifactSource>;

export const ImportSpec = z
  .object({
    name: z.string().trim().min(1, 'image name is empty').max(255, 'an image name is at most 255 characters'),
    arch: z.enum(['x86_64', 'aarch64']).default('x86_64'),
    rootfs: ArtifactSource,
    kernel: ArtifactSource.optional(),
    initrd: ArtifactSource.optional(),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not a valid bucket name').default('boot-images'),
    partSizeMiB: z.number().int().min(5).max(5120).default(64),
    ...retryField,
  })
  .strict();
export type ImportSpec = z.input<typeof ImportSpec>;
export type ParsedImportSpec = z.output<typeof ImportSpec>;

export const artifactKinds = ['rootfs', 'kernel', 'initrd'] as const;
export type ArtifactKind = (typeof artifactKinds)[number];
