import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { FailureType } from '../../lib/failures';

/** Lists every problem at once, with its path; nothing has started when this throws. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, what = 'input'): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`);
  throw ApplicationFailure.create({
    type: FailureType.InvalidInput,
    message: `invalid ${what}: ${issues.join('; ')}`,
    nonRetryable: true,
    details: [{ issues }],
  });
}
