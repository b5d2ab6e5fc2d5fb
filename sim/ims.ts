// IMS v3 image records. The behaviours clients meet: a link is checked against the real S3
// (imsLink.ts) but its etag is stored unchecked; a link is write-once (the identical link again is
// 200, another is 409); a manifest that cannot be read is stored anyway by PATCH but fails POST;
// DELETE is a soft delete into /deleted/images that moves the objects in S3 too (imsTrash.ts).
import { randomUUID } from 'node:crypto';
import { problem, requireObject, route, type Route } from './http';
import { checkImageLink, type ImageLink } from './imsLink';
import { purgeArtifacts, restoreArtifacts, trashArtifacts } from './imsTrash';
import type { SimS3 } from './s3';
import type { ImageRecord, StateFile } from './store';

const base = '/apis/ims/v3';
const archs = ['x86_64', 'aarch64'];

export class Ims {
  constructor(
    private readonly store: StateFile,
    private readonly s3: SimS3,
  ) {}

  get images() {
    return this.store.state.images;
  }

  routes(): Route[] {
    return [
      route('GET', `${base}/images`, () => ({ status: 200, body: Object.values(this.images) })),
      route('POST', `${base}/images`, async ({ body }) => ({ status: 201, body: await this.create(requireObject(body)) })),
      route('DELETE', `${base}/images`, async () => {
        for (const id of Object.keys(this.images)) await this.softDelete(id);
        return { status: 204 };
      }),
      route('GET', `${base}/images/{image_id}`, ({ params }) => ({ status: 200, body: this.find(params.image_id) })),
      route('PATCH', `${base}/images/{image_id}`, async ({ params, body }) => ({ status: 200, body: await this.patch(params.image_id, body) })),
      route('DELETE', `${base}/images/{image_id}`, async ({ params }) => {
        this.find(params.image_id);
        await this.softDelete(params.image_id);
        return { status: 204 };
      }),
      route('GET', `${base}/deleted/images`, () => ({ status: 200, body: Object.values(this.deletedImages) })),
      route('PATCH', `${base}/deleted/images`, async ({ body }) => {
        requireUndelete(body);
        for (const id of Object.keys(this.deletedImages)) await this.undelete(id);
        return { status: 204 };
      }),
      route('DELETE', `${base}/deleted/images`, async () => {
        for (const id of Object.keys(this.deletedImages)) await this.purge(id);
        return { status: 204 };
      }),
      route('GET', `${base}/deleted/images/{deleted_image_id}`, ({ params }) => ({ status: 200, body: this.findDeleted(params.deleted_image_id) })),
      route('PATCH', `${base}/deleted/images/{deleted_image_id}`, async ({ params, body }) => {
        this.findDeleted(params.deleted_image_id);
        requireUndelete(body);
        await this.undelete(params.deleted_image_id);
        return { status: 204 };
      }),
      route('DELETE', `${base}/deleted/images/{deleted_image_id}`, async ({ params }) => {
        this.findDeleted(params.deleted_image_id);
        await this.purge(params.deleted_image_id);
        return { status: 204 };
      }),
    ];
  }

  private get deletedImages() {
    return this.store.state.deletedImages;
  }

  find(id: string): ImageRecord {
    const image = this.images[id];
    if (!image) throw problem(404, 'Not Found', 'Requested resource does not exist. Re-run request with valid ID.');
    return image;
  }

  private findDeleted(id: string) {
    const image = this.deletedImages[id];
    if (!image) throw problem(404, 'Not Found', 'Requested resource does not exist. Re-run request with valid ID.');
    return image;
  }

  async create(body: Record<string, unknown>, id = randomUUID()): Promise<ImageRecord> {
    const errors: Record<string, string[]> = {};
    if (typeof body.name !== 'string' || body.name.length < 1) errors.name = ['Shorter than minimum length 1.'];
    if (body.arch !== undefined && !archs.includes(body.arch as string)) errors.arch = [`Must be one of: ${archs.join(', ')}.`];
    const metadata = body.metadata as { key?: unknown; value?: unknown } | undefined;
    if (metadata !== undefined && (typeof metadata !== 'object' || typeof metadata.key !== 'string')) errors.metadata = ['Must be {"key": ..., "value": ...}.'];
    const unknown = Object.keys(body).filter((k) => !['name', 'arch', 'link', 'metadata'].includes(k));
    for (const key of unknown) errors[key] = ['Unknown field.'];
    if (Object.keys(errors).length) throw invalidInput(errors);
    const link = body.link as ImageLink | undefined;
    if (link && (await this.checkLink(link)) === 'unreadable') {
      throw problem(500, 'Internal Server Error', `Unable to read manifest file for the s3 artifact ${JSON.stringify(link)}.`);
    }
    const image: ImageRecord = {
      id,
      name: body.name as string,
      created: new Date().toISOString(),
      arch: (body.arch as ImageRecord['arch']) ?? 'x86_64',
      ...(link ? { link } : {}),
      metadata: metadata ? { [metadata.key as string]: String(metadata.value ?? '') } : {},
    };
    this.images[image.id] = image;
    this.store.save();
    return image;
  }

  private async patch(id: string, body: unknown): Promise<ImageRecord> {
    const image = this.find(id);
    if (!body || (typeof body === 'object' && Object.keys(body).length === 0)) throw problem(400, 'Bad Request', 'No input provided. Determine the specific information that is missing or invalid and then re-run the request with valid information.');
    const patch = requireObject(body);
    const unknown = Object.keys(patch).filter((k) => !['link', 'arch', 'metadata'].includes(k));
    if (unknown.length) throw invalidInput(Object.fromEntries(unknown.map((k) => [k, ['Unknown field.']])));
    if (patch.arch !== undefined && !archs.includes(patch.arch as string)) throw invalidInput({ arch: [`Must be one of: ${archs.join(', ')}.`] });
    const changes = metadataChanges(patch.metadata);
    const badOperation = changes.find((change) => change.operation !== 'set' && change.operation !== 'remove');
    if (badOperation) throw invalidInput({ metadata: [`Unknown operation ${badOperation.operation}.`] });
    if (patch.link !== undefined) {
      const link = patch.link as ImageLink | null;
      if (!link || typeof link.path !== 'string' || typeof link.type !== 'string') throw invalidInput({ link: ['path and type are required.'] });
      if (image.link) {
        if (!sameLink(image.link, link)) throw problem(409, 'Conflict', 'Requested resource exists, but cannot be patched due to a patch conflict. Re-run request with valid input values.');
      } else {
        await this.checkLink(link);
        image.link = link;
      }
    }
    if (patch.arch !== undefined) image.arch = patch.arch as ImageRecord['arch'];
    for (const change of changes) {
      if (change.operation === 'set') image.metadata[change.key] = change.value ?? '';
      else delete image.metadata[change.key];
    }
    this.store.save();
    return image;
  }

  private checkLink(link: ImageLink) {
    return checkImageLink(this.s3, link, Object.values(this.images));
  }

  private async softDelete(id: string) {
    const { link, ...image } = this.images[id];
    const trashed = link ? await trashArtifacts(this.s3, id, link) : undefined;
    this.deletedImages[id] = { ...image, ...(trashed ? { link: trashed } : {}), deleted: new Date().toISOString() };
    delete this.images[id];
    this.store.save();
  }

  private async undelete(id: string) {
    const { deleted: _deleted, link, ...image } = this.deletedImages[id];
    const restored = link ? await restoreArtifacts(this.s3, link) : undefined;
    this.images[id] = { ...image, ...(restored ? { link: restored } : {}) };
    delete this.deletedImages[id];
    this.store.save();
  }

  private async purge(id: string) {
    const { link } = this.deletedImages[id];
    if (link) await purgeArtifacts(this.s3, link);
    delete this.deletedImages[id];
    this.store.save();
  }
}

function requireUndelete(body: unknown): void {
  const operation = requireObject(body).operation;
  if (operation !== 'undelete') throw invalidInput({ operation: ['Must be one of: undelete.'] });
}

const sameLink = (a: ImageLink, b: ImageLink) =>
  a.path === b.path && a.type === b.type && (a.etag ?? null) === (b.etag ?? null);

const invalidInput = (errors: Record<string, string[]>) =>
  problem(422, 'Unprocessable Entity', 'Input data was understood, but failed validation. Re-run request with valid input values for the fields indicated in the response.', { errors });

type MetadataChange = { operation: string; key: string; value?: string };

/**
 * ims.yaml's ImagePatchRecord has `metadata` as one `{operation, key, value}`; the IMS server reads a
 * list of them under `metadata.annotations`. Both are taken.
 */
function metadataChanges(metadata: unknown): MetadataChange[] {
  if (metadata === undefined) return [];
  const annotations = (metadata as { annotations?: unknown }).annotations;
  if (Array.isArray(annotations)) return annotations as MetadataChange[];
  return [metadata as MetadataChange];
}
