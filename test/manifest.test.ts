import { describe, expect, it } from 'vitest';
import { MediaType, etagFaults, parseS3Url, structuralProblems, withActualEtags, type Manifest } from '../lib/manifest';

const artifact = (path: string, type: string, etag?: string | null) => ({
  link: { path, type: 's3', ...(etag === undefined ? {} : { etag }) },
  md5: 'd41d8cd98f00b204e9800998ecf8427e',
  type,
});

describe('manifest structure (ManifestInvalid reasons)', () => {
  it('accepts a version 1.0 manifest with exactly one rootfs', () => {
    expect(structuralProblems({ version: '1.0', artifacts: [artifact('s3://boot-images/a/rootfs', MediaType.rootfs, 'e'), artifact('s3://boot-images/a/kernel', MediaType.kernel, 'k')] })).toEqual([]);
  });

  it('names every problem: version, rootfs count, link type, URL', () => {
    const problems = structuralProblems({
      version: '2.0',
      artifacts: [
        artifact('s3://boot-images/a/rootfs', MediaType.rootfs),
        artifact('s3://boot-images/a/enc', `${MediaType.rootfs}.luks`),
        { link: { path: 'http://x/y', type: 'http' }, type: MediaType.kernel },
      ],
    });
    expect(problems).toEqual([
      'version is "2.0", expected "1.0"',
      `2 rootfs artifacts (types starting with ${MediaType.rootfs}); exactly one is required`,
      'http://x/y: link type "http", expected "s3"',
    ]);
  });

  it('reports a non-manifest with the path of each wrong field', () => {
    expect(structuralProblems({ artifacts: 'nope' })).toEqual(expect.arrayContaining([expect.stringMatching(/^version: /), expect.stringMatching(/^artifacts: /)]));
    expect(structuralProblems({ version: '1.0', artifacts: [] })[0]).toMatch(/0 rootfs artifacts/);
  });
});

describe('etag faults (seed 000)', () => {
  const manifest: Manifest = {
    version: '1.0',
    artifacts: [
      artifact('s3://boot-images/a/rootfs', MediaType.rootfs),
      artifact('s3://boot-images/a/kernel', MediaType.kernel, null),
      artifact('s3://boot-images/a/initrd', MediaType.initrd, '"old"'),
    ],
  };

  it('classifies missing, null and stale etags as fixable and missing objects as not', () => {
    const { fixable, unfixable } = etagFaults(manifest, {
      's3://boot-images/a/rootfs': 'abc-3',
      's3://boot-images/a/kernel': 'def',
      's3://boot-images/a/initrd': null,
    });
    expect(fixable).toEqual([
      { path: 's3://boot-images/a/rootfs', kind: 'etag-missing', actual: 'abc-3' },
      { path: 's3://boot-images/a/kernel', kind: 'etag-null', actual: 'def' },
    ]);
    expect(unfixable).toEqual([{ path: 's3://boot-images/a/initrd', kind: 'object-missing' }]);
  });

  it('treats a quoted etag equal to S3 as correct, and repairs by taking S3 etags', () => {
    const etags = { 's3://boot-images/a/rootfs': 'r-2', 's3://boot-images/a/kernel': 'k', 's3://boot-images/a/initrd': 'old' };
    const repaired = withActualEtags(manifest, etags);
    expect(etagFaults(repaired, etags)).toEqual({ fixable: [], unfixable: [] });
    expect(repaired.artifacts.map((a) => a.link.etag)).toEqual(['r-2', 'k', 'old']);
  });
});

describe('s3 URLs', () => {
  it('parses bucket and key and rejects the rest', () => {
    expect(parseS3Url('s3://boot-images/abc/rootfs')).toEqual({ bucket: 'boot-images', key: 'abc/rootfs' });
    for (const bad of ['boot-images/abc', 's3://bucket', 's3:///key', 'S3://Bucket/key']) expect(() => parseS3Url(bad)).toThrow(/not an s3:\/\/bucket\/key URL/);
  });
});
