// Input checking shared by workflows and activities: every problem at once, each with its path.
import type { z } from 'zod';
import { FailureType, permanentFailure } from './failures';

export const issueLines = (error: z.ZodError): string[] =>
  error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`);

/** Parses or throws a non-retryable InvalidInput naming every problem; nothing has started when it throws. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, what = 'input'): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = issueLines(parsed.error);
  throw permanentFailure(FailureType.InvalidInput, `invalid ${what}: ${issues.join('; ')}`, { issues });
}
