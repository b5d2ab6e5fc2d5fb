// Whether a BSS entry still boots an image: its kernel, initrd or params name the image's S3 prefix
// (`s3://boot-images/<imageId>/`), one of its artifacts (kernel, initrd, `root=`, `metal.server=`, ...),
// or the WWID of one of its LUNs (`bootimg.lun.wwid=`). Pure: workflows and activities import it.
import type { BootFields } from './bootParams';

export interface ImageMarks {
  imageId: string;
  /** The manifest's artifact paths (s3://...). */
  artifactPaths: string[];
  /** The WWIDs its exported LUNs carry. */
  wwids: string[];
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One pattern for every mark: an artifact path or a WWID only as a whole token (`.../rootfs` must not match `.../rootfs2`). */
export function imageReferencePattern(marks: ImageMarks): RegExp {
  const whole = [...marks.artifactPaths, ...marks.wwids].map((mark) => `${escape(mark)}(?![A-Za-z0-9._/-])`);
  return new RegExp([escape(`s3://boot-images/${marks.imageId}/`), ...whole].join('|'));
}

export const entryReferencesImage = (entry: Partial<BootFields>, pattern: RegExp): boolean =>
  [entry.kernel, entry.initrd, entry.params].some((field) => typeof field === 'string' && pattern.test(field));
