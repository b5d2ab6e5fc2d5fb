// IMS v3 image records. The behaviours clients meet: a link is validated against the real S3
// (manifest version, exactly one rootfs, every artifact present) but its etag is stored unchecked;
// a link is write-once (the identical link again is 200, another is 409); an unreadable manifest
// is stored anyway, as IMS v3 does; DELETE is a soft delete into /deleted/images.
import { randomUUID } from 'node:crypto';
import { rootfsTypePrefix } from '../lib/manifest';
import { problem, requireObject, route, type Route } from './http';
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
      route('DELETE', `${base}/images`, () => {
        for (const id of Object.keys(this.images)) this.softDelete(id);
        return { status: 204 };
      }),
      route('GET', `${base}/images/{image_id}`, ({ params }) => ({ status: 200, body: this.find(params.image_id) })),
      route('PATCH', `${base}/images/{image_id}`, async ({ params, body }) => ({ status: 200, body: await this.patch(params.image_id, body) })),
      route('DELETE', `${base}/images/{image_id}`, ({ params }) => {
        this.find(params.image_id);
        this.softDelete(params.image_id);
        return { status: 204 };
      }),
      route('GET', `${base}/deleted/images`, () => ({ status: 200, body: Object.values(this.store.state.deletedImages) })),
      route('GET', `${base}/deleted/images/{deleted_image_id}`, ({ params }) => ({ status: 200, body: this.findDeleted(params.deleted_image_id) })),
      route('PATCH', `${base}/deleted/images/{deleted_image_id}`, ({ params, body }) => {
        const record = this.findDeleted(params.deleted_image_id);
        if (requireObject(body).operation !== 'undelete') throw problem(422, 'Unprocessable Entity', 'operation must be "undelete"');
        const { deleted: _deleted, ...image } = record;
        this.images[image.id] = image;
        delete this.store.state.deletedImages[image.id];
        this.store.save();
        return { status: 204 };
      }),
      route('DELETE', `${base}/deleted/images/{deleted_image_id}`, ({ params }) => {
        this.findDeleted(params.deleted_image_id);
        delete this.store.state.deletedImages[params.deleted_image_id];
        this.store.save();
        return { status: 204 };
      }),
    ];
  }

  find(id: string): ImageRecord {
    const image = this.images[id];
    if (!image) throw problem(404, 'Not Found', 'Requested resource does not exist. Re-run request with valid ID.');
    return image;
  }

  private findDeleted(id: string) {
    const image = this.store.state.deletedImages[id];
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
    const link = body.link as ImageRecord['link'];
    if (link) await this.validateLink(link);
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
    if (patch.link !== undefined) {
      const link = patch.link as ImageRecord['link'];
      if (!link || typeof link.path !== 'string' || typeof link.type !== 'string') throw invalidInput({ link: ['path and type are required.'] });
      if (image.link) {
        if (!sameLink(image.link, link)) throw problem(409, 'Conflict', 'Requested resource exists, but cannot be patched due to a patch conflict. Re-run request with valid input values.');
      } else {
        await this.validateLink(link);
        image.link = link;
      }
    }
    if (patch.arch !== undefined) {
      if (!archs.includes(patch.arch as string)) throw invalidInput({ arch: [`Must be one of: ${archs.join(', ')}.`] });
      image.arch = patch.arch as ImageRecord['arch'];
    }
    for (const change of (patch.metadata as { operation: string; key: string; value?: string }[] | undefined) ?? []) {
      if (change.operation === 'set') image.metadata[change.key] = change.value ?? '';
      else if (change.operation === 'remove') delete image.metadata[change.key];
      else throw invalidInput({ metadata: [`Unknown operation ${change.operation}.`] });
    }
    this.store.save();
    return image;
  }

  /** Real IMS v3: a manifest it cannot read is stored anyway; one it can read must be valid. */
  private async validateLink(link: NonNullable<ImageRecord['link']>): Promise<void> {
    if (link.type !== 's3') return;
    if (!(await this.s3.head(link.path).catch(() => null))) return;
    let manifest: { version?: unknown; artifacts?: { type?: string; link?: { path?: string } }[] };
    try {
      manifest = (await this.s3.getJson(link.path)) as typeof manifest;
    } catch {
      return;
    }
    if (manifest.version !== '1.0') throw problem(422, 'Unprocessable Entity', `Unsupported manifest version ${JSON.stringify(manifest.version)}; expected "1.0"`);
    const artifacts = Array.isArray(manifest.artifacts) ? manifest.artifacts : [];
    const rootfs = artifacts.filter((a) => a.type?.startsWith(rootfsTypePrefix));
    if (rootfs.length !== 1) throw problem(422, 'Unprocessable Entity', `The manifest has ${rootfs.length} artifacts of type ${rootfsTypePrefix}; exactly one is required`);
    for (const artifact of artifacts) {
      const path = artifact.link?.path;
      if (!path || !(await this.s3.head(path).catch(() => null))) throw problem(422, 'Unprocessable Entity', `Could not validate artifact ${path ?? '(no path)'}: it does not exist in S3`);
    }
  }

  private softDelete(id: string) {
    this.store.state.deletedImages[id] = { ...this.images[id], deleted: new Date().toISOString() };
    delete this.images[id];
    this.store.save();
  }
}

const sameLink = (a: NonNullable<ImageRecord['link']>, b: NonNullable<ImageRecord['link']>) =>
  a.path === b.path && a.type === b.type && (a.etag ?? null) === (b.etag ?? null);

const invalidInput = (errors: Record<string, string[]>) =>
  problem(422, 'Unprocessable Entity', 'Input data was understood, but failed validation. Re-run request with valid input values for the fields indicated in the response.', { errors });
