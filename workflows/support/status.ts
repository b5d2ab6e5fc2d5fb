// The `status` query and the search attributes the UI filters on (ImageId, ImageName, Phase).
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { attemptJournal, type AttemptRecord } from './attempt';

export interface WorkflowStatus {
  phase: string;
  step: string;
  imageId?: string;
  imageName?: string;
  attempts: AttemptRecord[];
  details: Record<string, unknown>;
}

export const statusQuery = defineQuery<WorkflowStatus>('status');

export const searchAttributes = {
  imageId: defineSearchAttributeKey('ImageId', 'KEYWORD'),
  imageName: defineSearchAttributeKey('ImageName', 'KEYWORD'),
  phase: defineSearchAttributeKey('Phase', 'KEYWORD'),
};

export function trackStatus(phase: string, initial: { imageId?: string; imageName?: string } = {}) {
  const state: WorkflowStatus = { phase, step: 'starting', attempts: attemptJournal, details: {}, ...initial };
  setHandler(statusQuery, () => state);
  const upsert = () =>
    upsertSearchAttributes([
      { key: searchAttributes.phase, value: state.phase },
      ...(state.imageId ? [{ key: searchAttributes.imageId, value: state.imageId }] : []),
      ...(state.imageName ? [{ key: searchAttributes.imageName, value: state.imageName }] : []),
    ]);
  upsert();
  return {
    step(step: string) {
      state.step = step;
    },
    setImage(imageId: string) {
      state.imageId = imageId;
      upsert();
    },
    setPhase(next: string) {
      state.phase = next;
      upsert();
    },
    detail(key: string, value: unknown) {
      state.details[key] = value;
    },
    state,
  };
}
