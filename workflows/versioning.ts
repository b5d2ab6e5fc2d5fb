// How each workflow type moves across worker versions (README, "Upgrading workers"). PINNED: the
// run finishes on the build it started on; no code change ever replays it, so no patched() is
// needed, and the old version keeps running until its last pinned run closes. AUTO_UPGRADE would
// move a run to the current build at its next workflow task: only for code kept replay-compatible
// with patched(), which none of ours is. A new workflow type must be given its behaviour here.
import type { VersioningBehavior } from '@temporalio/common';
import { setWorkflowOptions } from '@temporalio/workflow';
import type * as registered from './index';
import { attachNodes } from './attachNodes';
import { checkStack } from './checkStack';
import { customizeImage } from './customizeImage';
import { encryptImage } from './encryptImage';
import { exportImage } from './exportImage';
import { imageLifecycle } from './imageLifecycle';
import { importImage } from './importImage';
import { repairManifests } from './repairManifests';
import { retireImage } from './retireImage';
import { rollbackBootParameters } from './rollbackBootParameters';
import { updateBootParameters } from './updateBootParameters';
import { validateInitiatorBatch } from './validateInitiatorBatch';
import { validateInitiators } from './validateInitiators';

type WorkflowType = keyof typeof registered;

type Workflow = (...args: never[]) => Promise<unknown>;

export const versioningBehaviors: Record<WorkflowType, { workflow: Workflow; behavior: VersioningBehavior; why: string }> = {
  imageLifecycle: { workflow: imageLifecycle, behavior: 'PINNED', why: 'hours to days: its phases, then the rollout awaiting approval (up to 24 h)' },
  updateBootParameters: { workflow: updateBootParameters, behavior: 'PINNED', why: 'waits up to 24 h for approval, then batches; a rollback must run the code that planned the change' },
  rollbackBootParameters: { workflow: rollbackBootParameters, behavior: 'PINNED', why: 'restores what its rollout recorded, with the code that recorded it' },
  validateInitiators: { workflow: validateInitiators, behavior: 'PINNED', why: 'fans out over thousands of nodes and continues as new: every run on the same checks' },
  validateInitiatorBatch: { workflow: validateInitiatorBatch, behavior: 'PINNED', why: 'a batch of its parent validation: same version as the parent' },
  importImage: { workflow: importImage, behavior: 'PINNED', why: 'resumable uploads of large artifacts (minutes to hours)' },
  customizeImage: { workflow: customizeImage, behavior: 'PINNED', why: 'waits for a CFS session (up to its deadline)' },
  encryptImage: { workflow: encryptImage, behavior: 'PINNED', why: 'stages and encrypts on one host; its repair loop is version-specific' },
  exportImage: { workflow: exportImage, behavior: 'PINNED', why: 'one step per iSCSI server; short, no reason to move' },
  retireImage: { workflow: retireImage, behavior: 'PINNED', why: 'short; no reason to move' },
  attachNodes: { workflow: attachNodes, behavior: 'PINNED', why: 'short; no reason to move' },
  repairManifests: { workflow: repairManifests, behavior: 'PINNED', why: 'short; no reason to move' },
  checkStack: { workflow: checkStack, behavior: 'PINNED', why: 'seconds; no reason to move' },
};

for (const { workflow, behavior } of Object.values(versioningBehaviors)) setWorkflowOptions({ versioningBehavior: behavior }, workflow);
