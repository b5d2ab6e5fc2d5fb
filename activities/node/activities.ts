// The attach phase's activity (workflows/attachNodes.ts): for each node of a chunk, wait until it answers
// SSH from the project's initramfs, check that it waits for exactly this image, then push its CHAP
// credentials and the LUKS key (attach.ts). A node still running its previous system (not rebooted yet)
// is waited for; a node whose initramfs waits for another image gets nothing.
import { z } from 'zod';
import { paramTokens, tokenKey, tokenValue } from '../../lib/bootParams';
import { FailureType, permanentFailure } from '../../lib/failures';
import { parseInput } from '../../lib/parseInput';
import type { CommandRunner } from '../export/commandRunner';
import type { SecretResolver } from '../export/secrets';
import type { KeyStore } from '../keys/keyStore';
import { currentContext } from '../support/progress';
import { pushChap, pushKey } from './attach';

const Ref = z.string().min(1);
const NodeAttached = z.object({ node: z.string(), outcome: z.literal('attached'), waitedSeconds: z.number(), pushed: z.array(z.string()) }).strict();
const NodeNotAttached = z.object({ node: z.string(), outcome: z.enum(['unreachable', 'refused']), waitedSeconds: z.number(), message: z.string() }).strict();
export type NodeAttachOutcome = z.output<typeof NodeAttached> | z.output<typeof NodeNotAttached>;

const AttachChunkInput = z
  .object({
    nodes: z.array(z.string().min(1)).min(1),
    iscsi: z.object({ lunWwid: Ref, luksKeyRef: Ref, chapRef: Ref.optional() }).strict(),
    chap: z.object({ userRef: Ref, secretRef: Ref, mutual: z.object({ userRef: Ref, secretRef: Ref }).strict().optional() }).strict().optional(),
    waitSeconds: z.number().int().positive(),
    /** Nodes an earlier try of this chunk attached (its last heartbeat): not pushed to again. */
    alreadyAttached: z.array(NodeAttached).default([]),
  })
  .strict();
export type AttachChunkInput = z.input<typeof AttachChunkInput>;

/** The marker only the project's initramfs has: a node that shows it is waiting in bootimg-root. */
const initramfsMarker = '/etc/bootimg/modules';
const probeCommand = ['sh', '-c', `cat /proc/cmdline; test -e ${initramfsMarker} && echo bootimg-initramfs || echo other-system`];

interface NodeAttachSettings {
  runnerFor: (node: string) => CommandRunner;
  keyStore: KeyStore;
  secrets: SecretResolver;
  pollIntervalMs?: number;
}

/** What a node's kernel command line says against what this attach is for; undefined when they agree. */
function mismatch(cmdline: string, expected: z.output<typeof AttachChunkInput>['iscsi']): string | undefined {
  const given = new Map(paramTokens(cmdline).map((token) => [tokenKey(token), tokenValue(token) ?? '']));
  const wanted: [string, string | undefined][] = [
    ['bootimg.lun.wwid', expected.lunWwid],
    ['bootimg.luks.key', expected.luksKeyRef],
    ['bootimg.iscsi.chap', expected.chapRef],
  ];
  const wrong = wanted.filter(([name, value]) => given.get(name) !== value);
  if (!wrong.length) return undefined;
  return `its initramfs waits for another image: ${wrong.map(([name, value]) => `${name}=${given.get(name) ?? '(absent)'} (expected ${value ?? '(absent)'})`).join(', ')}; reboot it to pick up its new boot parameters`;
}

export function nodeAttachActivities({ runnerFor, keyStore, secrets, pollIntervalMs = 5000 }: NodeAttachSettings) {
  return {
    async attachNodeChunk(raw: AttachChunkInput): Promise<NodeAttachOutcome[]> {
      const input = parseInput(AttachChunkInput, raw, 'attach chunk');
      const context = currentContext();
      const done = new Map(input.alreadyAttached.map((outcome) => [outcome.node, outcome as NodeAttachOutcome]));
      const key = await keyStore.getKey(input.iscsi.luksKeyRef);
      const resolve = async (refs: { userRef: string; secretRef: string }) => ({ user: await secrets.resolve(refs.userRef), password: await secrets.resolve(refs.secretRef) });
      const chap = input.chap && { ...(await resolve(input.chap)), ...(input.chap.mutual ? { mutual: await resolve(input.chap.mutual) } : {}) };
      if (input.iscsi.chapRef && !chap) throw permanentFailure(FailureType.InvalidInput, 'iscsi.chapRef is given without chap: the node would wait for credentials nobody pushes');
      const heartbeat = () => context?.heartbeat({ attached: [...done.values()].filter((o) => o.outcome === 'attached') });
      const started = Date.now();
      const deadline = started + input.waitSeconds * 1000;
      const waited = () => Math.round((Date.now() - started) / 100) / 10;

      const attachOne = async (node: string): Promise<NodeAttachOutcome> => {
        const runner = runnerFor(node);
        let last = 'no answer yet';
        for (;;) {
          if (context?.cancellationSignal.aborted) throw context.cancellationSignal.reason;
          try {
            const [cmdline = '', where = ''] = (await runner.run(probeCommand)).stdout.split('\n');
            if (where === 'bootimg-initramfs') {
              const wrong = mismatch(cmdline, input.iscsi);
              if (wrong) return { node, outcome: 'refused', waitedSeconds: waited(), message: wrong };
              if (chap && input.iscsi.chapRef) await pushChap(runner, input.iscsi.chapRef, chap);
              await pushKey(runner, input.iscsi.luksKeyRef, key);
              return { node, outcome: 'attached', waitedSeconds: waited(), pushed: [...(chap ? ['chap'] : []), 'key'] };
            }
            last = 'answers SSH from another system, not the bootimg initramfs (not rebooted yet?)';
          } catch (error) {
            last = (error as Error).message;
          }
          if (Date.now() >= deadline) return { node, outcome: 'unreachable', waitedSeconds: waited(), message: `not waiting in the bootimg initramfs within ${input.waitSeconds} s: ${last}` };
          heartbeat();
          await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
        }
      };

      try {
        await Promise.all(
          input.nodes.filter((node) => !done.has(node)).map(async (node) => {
            done.set(node, await attachOne(node));
            heartbeat();
          }),
        );
      } finally {
        key.fill(0);
      }
      return input.nodes.map((node) => done.get(node)!);
    },
  };
}
