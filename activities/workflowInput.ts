// A workflow's input, checked and given its defaults once, when the run starts: the workflow calls
// this as a local activity (workflows/support/input.ts), so the resolved values are recorded in its
// history and a replay reads them from there. A default changed by a later release then cannot
// change what a running workflow does, and no default is ever computed in workflow code.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { z } from 'zod';
import { parseInput } from '../lib/parseInput';
import { workflowInputSchemas } from '../lib/specs/registry';
import { ValidateInitiatorsSpec } from '../lib/specs/validateSpec';

// A run started by a caller is held to the caller's schema (the registry's); a run continued as new takes
// the workflow's own view, with what it gives itself (validateInitiators' `resume`).
const ownSchemas: Record<string, z.ZodType> = { validateInitiators: ValidateInitiatorsSpec };

export function createWorkflowInputActivities() {
  return {
    async resolveWorkflowInput(input: { raw: unknown; what: string; continuedAsNew?: boolean }): Promise<unknown> {
      const { workflowType } = Context.current().info;
      const schema = workflowType ? ((input.continuedAsNew ? ownSchemas[workflowType] : undefined) ?? workflowInputSchemas[workflowType as keyof typeof workflowInputSchemas]) : undefined;
      if (!schema) throw ApplicationFailure.nonRetryable(`workflow type ${workflowType} has no input schema (lib/specs/registry.ts)`, 'NoInputSchema');
      return parseInput(schema, input.raw, input.what);
    },
  };
}
