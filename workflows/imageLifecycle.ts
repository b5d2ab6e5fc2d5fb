// imageLifecycle: the whole path of a boot image, each phase a child workflow of its own (so each
// can also be started alone, and shows in the UI under this one):
//   import → customize → (encrypt → export → boot parameters → validate: see the phase workflows)
import { executeChild, workflowInfo } from '@temporalio/workflow';
import { FailureType, permanentFailure } from '../lib/failures';
import { LifecycleSpec } from '../lib/specs/lifecycleSpec';
import { customizeImage, type CustomizeResult } from './customizeImage';
import { importImage, type ImportResult } from './importImage';
import { central } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { trackStatus } from './support/status';

export interface LifecycleSummary {
  name: string;
  /** The image the later phases worked on (the customized one when customize ran). */
  imageId: string;
  manifest: { path: string; etag: string };
  phases: {
    import?: ImportResult;
    customize?: CustomizeResult;
  };
}

export async function imageLifecycle(raw: unknown): Promise<LifecycleSummary> {
  const spec = parseInput(LifecycleSpec, raw, 'lifecycle spec');
  const status = trackStatus('lifecycle', { imageName: spec.name });
  const parentId = workflowInfo().workflowId;
  const phases: LifecycleSummary['phases'] = {};

  const runPhase = async <T>(phase: string, run: (workflowId: string) => Promise<T>): Promise<T> => {
    const workflowId = `${parentId}.${phase}`;
    status.setPhase(phase);
    status.step(`child workflow ${workflowId}`);
    status.detail('currentChild', workflowId);
    return run(workflowId);
  };

  let imageId: string;
  let manifest: { path: string; etag: string };
  if (spec.import) {
    const imported = await runPhase('import', (workflowId) => executeChild(importImage, { workflowId, args: [{ name: spec.name, ...spec.import }] }));
    phases.import = imported;
    imageId = imported.imageId;
    manifest = imported.manifest;
  } else {
    imageId = spec.imageId!;
    status.setPhase('check image');
    const image = await attempt('check image in IMS', () => central.getImage({ imageId }));
    const manifestPath = image.link?.path;
    if (!manifestPath) throw permanentFailure(FailureType.ManifestInvalid, `IMS image ${imageId} has no manifest link`);
    manifest = (
      await attempt('check manifest', () => central.checkManifest({ manifestPath }), {
        repairs: { [FailureType.ManifestEtagFault]: () => central.repairManifest({ manifestPath }) },
      })
    ).link;
  }
  status.setImage(imageId);

  if (spec.customize) {
    const customized = await runPhase('customize', (workflowId) => executeChild(customizeImage, { workflowId, args: [{ imageId, ...spec.customize }] }));
    phases.customize = customized;
    imageId = customized.resultImageId;
    manifest = customized.manifest;
    status.setImage(imageId);
  }

  status.setPhase('done');
  status.step('done');
  return { name: spec.name, imageId, manifest, phases };
}
