// Which input schema each startable workflow type has: imagectl validates spec files with it,
// and the workflow validates its input with the same one, whatever surface started it.
import type { z } from 'zod';
import { AttachNodesSpec } from './attachSpec';
import { RollbackBootParametersSpec, UpdateBootParametersSpec } from './bootParamsSpec';
import { CustomizeSpec } from './customizeSpec';
import { EncryptSpec } from './encryptSpec';
import { ExportSpec } from './exportSpec';
import { ImportSpec } from './importSpec';
import { LifecycleSpec } from './lifecycleSpec';
import { RepairManifestsSpec } from './repairSpec';
import { RetireImageSpec } from './retireSpec';
import { CallerValidateInitiatorsSpec } from './validateSpec';

export const workflowInputSchemas: Record<string, z.ZodType> = {
  imageLifecycle: LifecycleSpec,
  importImage: ImportSpec,
  repairManifests: RepairManifestsSpec,
  customizeImage: CustomizeSpec,
  exportImage: ExportSpec,
  encryptImage: EncryptSpec,
  updateBootParameters: UpdateBootParametersSpec,
  rollbackBootParameters: RollbackBootParametersSpec,
  validateInitiators: CallerValidateInitiatorsSpec,
  retireImage: RetireImageSpec,
  attachNodes: AttachNodesSpec,
};

export const defaultWorkflowType = 'imageLifecycle';
