// imageLifecycle: the whole path of a boot image, each phase a child workflow of its own (so each
// can also be started alone, and shows in the UI under this one):
//   import | existing image → customize → encrypt → export → validate (from the nodes' side, before
//   they are pointed at it) → boot parameters (canary, approval, batches) → attach (the key and CHAP
//   credentials pushed to the nodes as they wait in their initramfs)
// Every phase but the first is optional. Cancelling this workflow cancels the running phase, which
// cleans up after itself: uploads aborted, partial exports removed, BSS rolled back.
import { executeChild, setHandler, startChild, workflowInfo, type ChildWorkflowHandle } from '@temporalio/workflow';
import { FailureType, permanentFailure } from '../lib/failures';
import { MediaType } from '../lib/manifest';
import type { ApprovalDecision } from '../lib/specs/bootParamsSpec';
import type { IscsiBootSpec } from '../lib/specs/iscsiBootSpec';
import { LifecycleSpec } from '../lib/specs/lifecycleSpec';
import { attachNodes, type AttachNodesResult } from './attachNodes';
import { customizeImage, type CustomizeResult } from './customizeImage';
import { encryptImage, type EncryptResult } from './encryptImage';
import { exportImage, type ExportImageResult } from './exportImage';
import { importImage, type ImportResult } from './importImage';
import { parseInput } from './support/input';
import { recordPhaseDuration } from './support/metrics';
import { checkedManifest, imageWithManifest } from './support/manifests';
import { trackStatus } from './support/status';
import { validateInitiators, type ValidationSummary } from './validateInitiators';
import { approveSignal, approveUpdate, rejectSignal, rejectUpdate, updateBootParameters, type BootParametersResult } from './updateBootParameters';

export interface LifecycleSummary {
  name: string;
  /** The image the later phases worked on (the customized one when customize ran). */
  imageId: string;
  manifest: { path: string; etag: string };
  phases: {
    import?: ImportResult;
    customize?: CustomizeResult;
    encrypt?: EncryptResult;
    export?: ExportImageResult;
    validate?: ValidationSummary;
    bootParameters?: BootParametersResult;
    attach?: AttachNodesResult;
  };
}

export async function imageLifecycle(raw: unknown): Promise<LifecycleSummary> {
  const spec = await parseInput(LifecycleSpec, raw, 'lifecycle spec');
  const status = trackStatus('lifecycle', { imageName: spec.name });
  const parentId = workflowInfo().workflowId;
  const phases: LifecycleSummary['phases'] = {};
  const approvals = forwardApprovals(status);

  const runPhase = async <T>(phase: string, run: (workflowId: string) => Promise<T>): Promise<T> => {
    const workflowId = `${parentId}.${phase}`;
    status.setPhase(phase);
    status.step(`child workflow ${workflowId}`);
    status.detail('currentChild', workflowId);
    const started = Date.now();
    const seconds = () => (Date.now() - started) / 1000;
    try {
      const result = await run(workflowId);
      recordPhaseDuration(phase, seconds(), 'completed');
      return result;
    } catch (error) {
      recordPhaseDuration(phase, seconds(), 'failed');
      throw error;
    }
  };

  let imageId: string;
  let manifest: { path: string; etag: string };
  if (spec.import) {
    const imported = await runPhase('import', (workflowId) => executeChild(importImage, { workflowId, args: [{ name: spec.name, ...spec.import, retry: spec.retry }] }));
    phases.import = imported;
    imageId = imported.imageId;
    manifest = imported.manifest;
  } else {
    imageId = spec.imageId!;
    manifest = await checkExistingImage(imageId, status);
  }
  status.setImage(imageId);

  if (spec.customize) {
    const customized = await runPhase('customize', (workflowId) => executeChild(customizeImage, { workflowId, args: [{ imageId, ...spec.customize, retry: spec.retry }] }));
    phases.customize = customized;
    imageId = customized.resultImageId;
    manifest = customized.manifest;
    status.setImage(imageId);
  }

  if (spec.encrypt) {
    phases.encrypt = await runPhase('encrypt', (workflowId) => executeChild(encryptImage, { workflowId, args: [{ imageId, ...spec.encrypt, retry: spec.retry }] }));
    manifest = phases.encrypt.manifest;
  }

  if (spec.export) {
    const artifactType = spec.encrypt ? MediaType.rootfsLuks : MediaType.rootfs;
    phases.export = await runPhase('export', (workflowId) => executeChild(exportImage, { workflowId, args: [{ imageId, artifactType, ...spec.export, retry: spec.retry }] }));
  }

  if (spec.validate && phases.export) {
    const { artifact } = phases.export;
    const luks = phases.encrypt && { uuid: phases.encrypt.artifact.luks.uuid, keyId: phases.encrypt.artifact.luks.keyId };
    phases.validate = await runPhase('validate', (workflowId) =>
      executeChild(validateInitiators, {
        workflowId,
        args: [{ ...spec.validate, imageId, rootfs: { path: artifact.path, etag: artifact.etag }, iscsi: bootIscsi(phases, undefined), ...(luks ? { luks } : {}), retry: spec.retry }],
      }),
    );
  }

  if (spec.bootParameters) {
    const iscsi = bootIscsi(phases, spec.bootParameters.iscsi, spec.export?.chap);
    phases.bootParameters = await runPhase('boot-parameters', async (workflowId) => {
      const child = await startChild(updateBootParameters, { workflowId, args: [{ ...spec.bootParameters, imageId, ...(iscsi ? { iscsi } : {}), retry: spec.retry }] });
      approvals.attach(child);
      return child.result();
    });
    if (spec.attach) {
      const { nodes = spec.bootParameters.nodes, ...options } = spec.attach;
      const { lunWwid, luksKeyRef, chapRef } = iscsi ?? {};
      if (!lunWwid || !luksKeyRef) throw permanentFailure(FailureType.InvalidInput, 'attach needs the LUN WWID and the LUKS key reference the nodes wait for: export and encrypt the image, or give them in bootParameters.iscsi');
      const chap = chapRef ? spec.export?.chap : undefined;
      phases.attach = await runPhase('attach', (workflowId) =>
        executeChild(attachNodes, { workflowId, args: [{ ...options, nodes, iscsi: { lunWwid, luksKeyRef, ...(chapRef ? { chapRef } : {}) }, ...(chap ? { chap } : {}), retry: spec.retry }] }),
      );
    }
  }

  status.setPhase('done');
  status.step('done');
  return { name: spec.name, imageId, manifest, phases };
}

async function checkExistingImage(imageId: string, status: ReturnType<typeof trackStatus>) {
  status.setPhase('check image');
  const { manifestPath } = await imageWithManifest(imageId, 'check image in IMS');
  return (await checkedManifest(manifestPath)).link;
}

/**
 * The iSCSI boot parameters the export and encryption phases imply; what the spec gives wins. An export
 * with CHAP makes the nodes wait for their credentials under the name of the CHAP user's reference.
 */
function bootIscsi(phases: LifecycleSummary['phases'], given: IscsiBootSpec | undefined, chap?: { userRef: string }): IscsiBootSpec | undefined {
  const servers = phases.export?.servers;
  if (!servers?.length) return given;
  const targets = servers.flatMap((server) => server.portals.map((portal) => ({ iqn: server.iqn, address: portal.address, port: portal.port })));
  return {
    ...(targets.length ? { targets } : {}),
    lunWwid: servers[0].wwid,
    ...(phases.encrypt ? { luksKeyRef: phases.encrypt.artifact.luks.keyId } : {}),
    ...(chap ? { chapRef: chap.userRef } : {}),
    ...given,
  };
}

/**
 * Signals (`temporal workflow signal --name approve`, the UI) addressed to the lifecycle go on to
 * the boot parameters phase, which records them or lists them as ignored in its status. Updates
 * cannot be forwarded from workflow code: an `approve`/`reject` update sent here is refused, naming
 * the rollout to send it to (`imagectl approve` finds that rollout itself).
 */
function forwardApprovals(status: ReturnType<typeof trackStatus>) {
  let child: ChildWorkflowHandle<typeof updateBootParameters> | undefined;
  const ignored: string[] = [];
  const forward = (signal: typeof approveSignal) => async (decision: ApprovalDecision) => {
    if (child) return child.signal(signal, decision);
    ignored.push(`${signal.name} signal ignored: no boot parameters phase is running`);
    status.detail('ignoredSignals', ignored);
  };
  setHandler(approveSignal, forward(approveSignal));
  setHandler(rejectSignal, forward(rejectSignal));
  const redirect = (_decision: ApprovalDecision): never => {
    throw new Error(
      child
        ? `send the decision to the boot parameters rollout ${child.workflowId} (imagectl approve ${workflowInfo().workflowId} does)`
        : `no boot parameters phase is running (phase ${status.state.phase}): no decision taken`,
    );
  };
  setHandler(approveUpdate, redirect, { validator: redirect });
  setHandler(rejectUpdate, redirect, { validator: redirect });
  return {
    attach(handle: ChildWorkflowHandle<typeof updateBootParameters>) {
      child = handle;
    },
  };
}
