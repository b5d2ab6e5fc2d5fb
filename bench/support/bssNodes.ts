// Rollout nodes for the benchmarks: names in cabinets of their own on the simulated BSS, all starting
// from one old entry, written and removed in chunks at the rollout's concurrency.
import { CsmClient } from '../../activities/csm/client';
import { devStack } from '../../dev/config';
import { inBatches } from '../../lib/bootParams';

export const bssPath = '/apis/bss/boot/v1/bootparameters';
export const csm = new CsmClient(devStack.csm);

export const oldEntry = {
  kernel: 's3://boot-images/bench-old/kernel',
  initrd: 's3://boot-images/bench-old/initrd',
  params: 'console=ttyS0,115200 ip=dhcp quiet root=sbps-s3:s3://boot-images/bench-old/rootfs:0f3e9c5d8b7a6f5e4d3c2b1a09f8e7d6-7:sbps:v1:iqn.2023-06.csm.iscsi:_sbps-hsn._tcp.example.com:300 nmd_data=url=s3://boot-images/bench-old/rootfs,etag=0f3e9c5d8b7a6f5e4d3c2b1a09f8e7d6-7',
};

/** Runs `work` on every item, `width` at a time. */
export async function inPool<T>(items: T[], width: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** `count` node names in random cabinets, each a chassis of 64 slots of two nodes: x<cab>c<chassis>s<slot>b0n<node>. */
export function benchNodes(count: number): string[] {
  const cabinet = 5000 + Math.floor(Math.random() * 4000);
  return Array.from({ length: count }, (_, i) => `x${cabinet + Math.floor(i / 1024)}c${Math.floor((i % 1024) / 128)}s${Math.floor((i % 128) / 2)}b0n${i % 2}`);
}

/** Every node back to the old entry. */
export const resetEntries = (nodes: string[], concurrency: number) => inPool(inBatches(nodes, 1000), concurrency, (hosts) => csm.request('PUT', bssPath, { hosts, ...oldEntry }));

export const removeEntries = (nodes: string[], concurrency: number) => inPool(inBatches(nodes, 1000), concurrency, (hosts) => csm.request('DELETE', bssPath, { hosts }).catch(() => undefined));
