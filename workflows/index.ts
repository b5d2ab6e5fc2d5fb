// Every workflow type the orchestrator worker registers (all pinned to their worker version: workers/versioning.ts).
export { checkStack } from './checkStack';
export { importImage } from './importImage';
export { repairManifests } from './repairManifests';
export { customizeImage } from './customizeImage';
export { imageLifecycle } from './imageLifecycle';
export { exportImage } from './exportImage';
export { encryptImage } from './encryptImage';
export { updateBootParameters } from './updateBootParameters';
export { rollbackBootParameters } from './rollbackBootParameters';
export { validateInitiators } from './validateInitiators';
export { validateInitiatorBatch } from './validateInitiatorBatch';
export { retireImage } from './retireImage';
export { attachNodes } from './attachNodes';
