// Every workflow type the orchestrator registers: each has a recorded history the replay test replays.
export const replayedTypes = [
  'imageLifecycle',
  'importImage',
  'repairManifests',
  'customizeImage',
  'encryptImage',
  'exportImage',
  'updateBootParameters',
  'rollbackBootParameters',
  'validateInitiators',
  'validateInitiatorBatch',
  'retireImage',
  'checkStack',
  'attachNodes',
] as const;
