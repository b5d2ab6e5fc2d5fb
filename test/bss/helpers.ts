// A BSS test bed: the in-process simulator (every exchange held to bss.yaml, every request counted),
// the dev stack's real S3, the boot parameter activities over both, and image fixtures in S3.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { createBssActivities } from '../../activities/bss/activities';
import { BssClient } from '../../activities/bss/client';
import { SnapshotStore } from '../../activities/bss/snapshot';
import { CsmClient } from '../../activities/csm/client';
import { ObjectStore } from '../../activities/manifest/objectStore';
import { createS3Client } from '../../activities/s3/client';
import { devStack } from '../../dev/config';
import { MediaType, type Manifest } from '../../lib/manifest';
import { contractFetch } from '../contract/openapi';
import { startHarness, testClient, type Harness } from '../sim/harness';

export const bssPath = '/apis/bss/boot/v1/bootparameters';

const s3 = createS3Client(devStack.s3);
export const objectStore = new ObjectStore(s3);

export interface SeedGroup {
  hosts: string[];
  kernel: string;
  initrd: string;
  params: string;
  'cloud-init'?: unknown;
}

export async function startBssTestBed() {
  const h: Harness = await startHarness();
  const requests: { method: string; path: string; url: string }[] = [];
  const counting: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname.startsWith('/apis/')) requests.push({ method: init?.method ?? 'GET', path: url.pathname, url: url.href });
    return fetch(input, init);
  };
  const csm = new CsmClient({ url: h.sim.url, clientId: testClient.id, clientSecret: testClient.secret }, contractFetch(h.violations, counting));
  const bss = new BssClient(csm);
  const snapshots = new SnapshotStore(objectStore, 's3://ims/bss-changes-test');
  return {
    h,
    bss,
    snapshots,
    requests,
    // Node locks of this run only: a rollout a failed earlier run left running would hold the same xnames.
    activities: createBssActivities({ bss, snapshots, store: objectStore, lockPrefix: `s3://ims/bss-locks-test/${randomUUID()}` }),
    /** Creates entries straight through the API (one POST per group). */
    async seed(groups: SeedGroup[]) {
      for (const group of groups) {
        const created = await h.raw('POST', bssPath, group);
        if (created.status !== 201) throw new Error(`seeding BSS: ${JSON.stringify(created.body)}`);
      }
    },
    /** Each node's entry exactly as BSS serves it (JSON text), or null when it has none. */
    async entries(nodes: string[]): Promise<Record<string, string | null>> {
      const all = (await h.raw('GET', bssPath)).body as { hosts: string[] }[];
      const byHost = new Map(all.flatMap((item) => item.hosts.map((host) => [host, JSON.stringify(item)] as const)));
      return Object.fromEntries(nodes.map((node) => [node, byHost.get(node) ?? null]));
    },
    countRequests(method: string) {
      return requests.filter((r) => r.method === method).length;
    },
  };
}
export type BssTestBed = Awaited<ReturnType<typeof startBssTestBed>>;

export interface TestImage {
  imageId: string;
  manifestPath: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  rootfsEtag: string;
}

/** A small image in S3 with a manifest carrying S3's etags; `withoutRootfsEtag` drops the rootfs etag, as seed 000 found. */
export async function putTestImage(options: { withoutRootfsEtag?: boolean } = {}): Promise<TestImage> {
  const imageId = randomUUID();
  const etags: Record<string, string> = {};
  for (const kind of ['kernel', 'initrd', 'rootfs'] as const) {
    const put = await s3.send(new PutObjectCommand({ Bucket: 'boot-images', Key: `${imageId}/${kind}`, Body: `${kind} of ${imageId}\n` }));
    etags[kind] = put.ETag!.replaceAll('"', '');
  }
  const url = (kind: string) => `s3://boot-images/${imageId}/${kind}`;
  const manifest: Manifest = {
    version: '1.0',
    created: new Date().toISOString(),
    artifacts: (['rootfs', 'kernel', 'initrd'] as const).map((kind) => ({
      link: { path: url(kind), ...(kind === 'rootfs' && options.withoutRootfsEtag ? {} : { etag: etags[kind] }), type: 's3' },
      type: MediaType[kind],
    })),
  };
  const manifestPath = url('manifest.json');
  await objectStore.putJson(manifestPath, manifest);
  return { imageId, manifestPath, kernel: url('kernel'), initrd: url('initrd'), rootfs: url('rootfs'), rootfsEtag: etags.rootfs };
}

export const oldImageId = '1dbb777c-2527-449b-bd6d-fb4d1cb79e88';

export const computeParams = (provider: 'sbps-s3' | 'craycps-s3' = 'sbps-s3') =>
  `console=ttyS0,115200 bad_page=panic crashkernel=360M hugepagelist=2m-2g intel_iommu=off iommu=pt oops=panic ` +
  `rd.neednet=1 rd.retry=10 rd.shell ip=dhcp quiet ` +
  `root=${provider}:s3://boot-images/${oldImageId}/rootfs:0f3e9c5d8b7a6f5e4d3c2b1a09f8e7d6-7:sbps:v1:iqn.2023-06.csm.iscsi:_sbps-hsn._tcp.example.com:300 ` +
  `nmd_data=url=s3://boot-images/${oldImageId}/rootfs,etag=0f3e9c5d8b7a6f5e4d3c2b1a09f8e7d6-7 rd.cmdline="ask quiet"`;

export const ncnParams = (mac: string) =>
  `biosdevname=1 pcie_ports=native console=tty0 console=ttyS0,115200 metal.server=s3://boot-images/${oldImageId}/rootfs ` +
  `metal.no-wipe=1 root=live:LABEL=SQFSRAID rd.live.squashimg=filesystem.squashfs ifname=mgmt0:${mac} ip=mgmt0:dhcp`;

export const oldArtifacts = { kernel: `s3://boot-images/${oldImageId}/kernel`, initrd: `s3://boot-images/${oldImageId}/initrd` };
