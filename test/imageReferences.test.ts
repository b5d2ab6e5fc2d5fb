import { describe, expect, it } from 'vitest';
import { entryReferencesImage, imageReferencePattern } from '../lib/imageReferences';

describe('which BSS entries boot an image', () => {
  const pattern = imageReferencePattern({
    imageId: 'img-1',
    artifactPaths: ['s3://boot-images/abc/rootfs', 's3://boot-images/abc/kernel'],
    wwids: ['36001405aaaaaaaaaaaaaaaaaaaaaaaaa'],
  });
  const boots = (fields: { kernel?: string; initrd?: string; params?: string }) => entryReferencesImage(fields, pattern);

  it('finds the image prefix, an artifact path or a LUN WWID in kernel, initrd or params', () => {
    expect(boots({ kernel: 's3://boot-images/img-1/kernel' })).toBe(true);
    expect(boots({ kernel: 's3://boot-images/abc/kernel', params: 'quiet' })).toBe(true);
    expect(boots({ params: 'root=sbps-s3:s3://boot-images/abc/rootfs:etag-7:sbps:v1:iqn:srv:300' })).toBe(true);
    expect(boots({ params: 'nmd_data=url=s3://boot-images/abc/rootfs,etag=x' })).toBe(true);
    expect(boots({ params: 'bootimg.lun.wwid=36001405aaaaaaaaaaaaaaaaaaaaaaaaa quiet' })).toBe(true);
  });

  it('does not take a longer path or another image for this one', () => {
    expect(boots({ params: 'metal.server=s3://boot-images/abc/rootfs2 root=live:LABEL=SQFSRAID' })).toBe(false);
    expect(boots({ kernel: 's3://boot-images/img-10/kernel', params: 'bootimg.lun.wwid=36001405aaaaaaaaaaaaaaaaaaaaaaaaab' })).toBe(false);
    expect(boots({})).toBe(false);
  });
});
