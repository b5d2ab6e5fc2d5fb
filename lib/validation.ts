// validateInitiators' pure parts: what each node must see, how servers are named in reports, and how the
// first failures and counts of many batches (and runs) add up. Pure: the workflows import it.
import type { Expectation, NodeToCheck, NodeVerdict, ServerTarget } from './nodeChecks';
import type { BootImage } from './bootParams';
import { FailureType, permanentFailure } from './failures';
import type { IscsiBootSpec } from './specs/iscsiBootSpec';
import { lunIdentity } from './lunIdentity';
import type { FailureLine, ParsedValidateInitiatorsSpec, ValidationProgress } from './specs/validateSpec';

/** Servers named by their marshal IQN's host part (`iqn.2023-06.csm.iscsi:iscsi1` → `iscsi1`), else by portal. */
export function serverTargets(targets: { iqn: string; address: string; port: number }[]): ServerTarget[] {
  const hostOf = (iqn: string) => iqn.slice(iqn.lastIndexOf(':') + 1);
  const hosts = targets.map((t) => hostOf(t.iqn));
  return targets.map((t, i) => ({
    server: hosts[i] && hosts.indexOf(hosts[i]) === hosts.lastIndexOf(hosts[i]) ? hosts[i] : `${t.address}:${t.port}`,
    iqn: t.iqn,
    address: t.address,
    port: t.port,
  }));
}

/**
 * The artifact the nodes' LUN carries: the LUKS container when the boot parameters name its WWID or a
 * LUKS key (an encrypted export), else the squashfs rootfs.
 */
export function exportedArtifact(image: BootImage, iscsi: IscsiBootSpec | undefined): { path: string; etag: string } {
  const wwidOf = (artifact: { path: string; etag: string }) => lunIdentity({ linkPath: artifact.path, linkEtag: artifact.etag }).wwid;
  if (!image.luks) return image.rootfs;
  if (iscsi?.lunWwid) return wwidOf(image.luks) === iscsi.lunWwid ? image.luks : image.rootfs;
  return iscsi?.luksKeyRef ? image.luks : image.rootfs;
}

/** The serial and WWID derived from the artifact's link; a given lunWwid must agree with them. */
export function expectation(spec: ParsedValidateInitiatorsSpec, sizeBytes: number): Expectation {
  const identity = lunIdentity({ linkPath: spec.rootfs.path, linkEtag: spec.rootfs.etag });
  if (spec.iscsi.lunWwid && spec.iscsi.lunWwid !== identity.wwid) {
    throw permanentFailure(FailureType.InvalidInput, `iscsi.lunWwid ${spec.iscsi.lunWwid} is not the WWID ${identity.wwid} of ${spec.rootfs.path} (etag ${spec.rootfs.etag})`);
  }
  const luks = luksExpected(spec);
  return {
    serial: identity.serial,
    wwid: identity.wwid,
    sizeBytes,
    ...(luks ? { luks: { ...(luks.uuid ? { uuid: luks.uuid } : {}), ...(luks.plaintextSha256 ? { plaintextSha256: luks.plaintextSha256 } : {}) } } : {}),
    ...(spec.content ? { content: spec.content } : {}),
  };
}

/** A LUKS key reference implies a LUKS container, even when no `luks` options are given. */
const luksExpected = (spec: ParsedValidateInitiatorsSpec) => spec.luks ?? (spec.iscsi.luksKeyRef ? {} : undefined);

export const luksKeyIdOf = (spec: ParsedValidateInitiatorsSpec) => luksExpected(spec)?.keyId ?? spec.iscsi.luksKeyRef;

export function nodesToCheck(spec: ParsedValidateInitiatorsSpec): NodeToCheck[] {
  const { initiator } = spec;
  return spec.nodes.map((node) => (initiator.driver === 'libiscsi' ? { node, initiatorIqn: initiator.iqnPattern.replaceAll('{node}', node) } : { node }));
}

/** The first failing check of each failing node, in node order, at most `limit`. */
export function firstFailureLines(verdicts: NodeVerdict[], limit: number, batch: number): FailureLine[] {
  return verdicts
    .filter((v) => !v.ok)
    .slice(0, limit)
    .map((v) => ({ batch, node: v.node, ...(v.failed[0].server ? { server: v.failed[0].server } : {}), check: v.failed[0].check, message: v.failed[0].message }));
}

/** Keeps the failures of the earliest batches (batches finish out of order), at most `limit`. */
export const mergeFailures = (kept: FailureLine[], more: FailureLine[], limit: number): FailureLine[] =>
  [...kept, ...more].sort((a, b) => a.batch - b.batch).slice(0, limit);

/** Each distinct skip reason once. */
export function mergeSkips(known: { check: string; reason: string }[], more: { check: string; reason: string }[]) {
  const seen = new Map(known.map((s) => [`${s.check}|${s.reason}`, s]));
  for (const skip of more) seen.set(`${skip.check}|${skip.reason}`, { check: skip.check, reason: skip.reason });
  return [...seen.values()];
}

export const describeFailureLine = (line: FailureLine) => `${line.node}${line.server ? ` on ${line.server}` : ''}: ${line.check}: ${line.message}`;

/** "2 of 10 nodes failed validation: nid004 on iscsi1: discovery: ...; ... (report: s3://...)" */
export function failureMessage(progress: Pick<ValidationProgress, 'failed' | 'firstFailures'>, total: number, report: string): string {
  const shown = progress.firstFailures.map(describeFailureLine).join('; ');
  const more = progress.failed > progress.firstFailures.length ? `; and ${progress.failed - progress.firstFailures.length} more` : '';
  return `${progress.failed} of ${total} nodes failed validation: ${shown}${more} (report: ${report})`;
}
