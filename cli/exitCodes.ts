import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { SettingsError } from '../settings/load';
import { SpecError } from './specFile';

export const ExitCode = { ok: 0, workflowFailed: 1, usage: 2, unreachable: 3 } as const;

export class UsageError extends Error {}

export function exitCodeFor(error: unknown): number {
  if (error instanceof SpecError || error instanceof UsageError || error instanceof SettingsError) return ExitCode.usage;
  if (error instanceof WorkflowFailedError) return ExitCode.workflowFailed;
  if (error instanceof WorkflowNotFoundError) return ExitCode.unreachable;
  const message = (error as Error)?.message ?? '';
  if (/^5 NOT_FOUND/.test(message) || /NOT_FOUND/.test(String((error as { cause?: Error })?.cause?.message))) return ExitCode.unreachable;
  if (/ECONNREFUSED|UNAVAILABLE|DEADLINE_EXCEEDED|Failed to connect/i.test(message)) return ExitCode.unreachable;
  return ExitCode.workflowFailed;
}
