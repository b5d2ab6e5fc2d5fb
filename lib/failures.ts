// Failure types shared by activities and workflows. Activities throw them with
// ApplicationFailure; workflows decide on them by `type` (repair, retry, or stop).
import { ApplicationFailure } from '@temporalio/common';

export const FailureType = {
  InvalidInput: 'InvalidInput',
  ArtifactCorrupt: 'ArtifactCorrupt',
  /** A multipart object whose part sizes the server does not tell and no whole-MiB part size explains. */
  PartLayoutUnknown: 'PartLayoutUnknown',
  ManifestInvalid: 'ManifestInvalid',
  /** An etag in the manifest is missing, null or differs from S3: repairable. */
  ManifestEtagFault: 'ManifestEtagFault',
  /** Others kept rewriting the manifest while this rewrite tried: transient. */
  ManifestWriteConflict: 'ManifestWriteConflict',
  StagedFileCorrupt: 'StagedFileCorrupt',
  /** Staging would exceed the cache bound, and everything left in the cache is exported. */
  StagingCacheFull: 'StagingCacheFull',
  /** A node still boots the image (BSS points at it): it cannot be retired. */
  ImageInUse: 'ImageInUse',
  CustomizationFailed: 'CustomizationFailed',
  CustomizationTimedOut: 'CustomizationTimedOut',
  /** A service answered 4xx (other than 401/408/429): retrying cannot help. */
  ServiceRejected: 'ServiceRejected',
  /** A service answered 5xx, or the network failed: worth another attempt. */
  ServiceUnavailable: 'ServiceUnavailable',
  ValidationFailed: 'ValidationFailed',
  /** An encrypted image that does not prove correct against an independent decryptor. */
  EncryptionVerifyFailed: 'EncryptionVerifyFailed',
  ApprovalTimedOut: 'ApprovalTimedOut',
  RolloutRejected: 'RolloutRejected',
  RollbackFailed: 'RollbackFailed',
  /** Nodes that did not get their secrets: not waiting in the bootimg initramfs in time, or waiting for another image. */
  NodesNotAttached: 'NodesNotAttached',
  /** A node's BSS entry was changed by someone else after the rollout's snapshot: not overwritten. */
  ChangedSinceSnapshot: 'ChangedSinceSnapshot',
  /** Another running rollout holds some of the nodes. */
  NodesHeld: 'NodesHeld',
} as const;

export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];

/** A failure no retry can fix; `details` must never carry secrets. */
export function permanentFailure(type: FailureTypeName, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? [] : [details] });
}

export function transientFailure(type: FailureTypeName, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: false, details: details === undefined ? [] : [details] });
}
