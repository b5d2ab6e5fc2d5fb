// Input checking shared by workflows and activities: every problem at once, each with its path.
import type { z } from 'zod';
import { FailureType, permanentFailure } from './failures';

export const issueLines = (error: z.ZodError): string[] =>
  error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`);

/** Deeper than any spec needs; much deeper input is an attack on the parsers, refused before it reaches them. */
export const maxInputDepth = 32;

/** The depth of nested objects and arrays, counted without recursion; stops counting past `limit`. */
export function nestingDepth(value: unknown, limit = maxInputDepth): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > limit) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Parses or throws a non-retryable InvalidInput naming every problem; nothing has started when it throws. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, what = 'input'): z.output<S> {
  if (nestingDepth(raw) > maxInputDepth) {
    throw permanentFailure(FailureType.InvalidInput, `invalid ${what}: (top level): nested more than ${maxInputDepth} levels deep`, { issues: [`(top level): nested more than ${maxInputDepth} levels deep`] });
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = issueLines(parsed.error);
  throw permanentFailure(FailureType.InvalidInput, `invalid ${what}: ${issues.join('; ')}`, { issues });
}
