// A workflow's input, parsed by its schema; its `retry` budget then holds for every step of the run.
import type { z } from 'zod';
import { parseInput as parseWith } from '../../lib/parseInput';
import type { RetrySpec } from '../../lib/specs/retrySpec';
import { useRetryBudget } from './attempt';

export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, what?: string): z.output<S> {
  const spec = parseWith(schema, raw, what);
  const retry = (spec as { retry?: RetrySpec }).retry;
  if (retry) useRetryBudget(retryBudgetOf(retry));
  return spec;
}

export const retryBudgetOf = (retry: RetrySpec) => ({ budgetMs: retry.budgetMinutes * 60_000, maxIntervalMs: retry.maxIntervalSeconds * 1000 });
