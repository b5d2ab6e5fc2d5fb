// Spec files (YAML or JSON): which workflow to start and its input, validated with the same zod
// schema the workflow uses, every problem reported at once with its path and line in the file.
import fs from 'node:fs';
import { LineCounter, isNode, parseDocument } from 'yaml';
import { maxInputDepth, nestingDepth } from '../lib/parseInput';
import { defaultWorkflowType, workflowInputSchemas } from '../lib/specs/registry';

export interface LoadedSpec {
  workflowType: string;
  input: unknown;
}

export class SpecError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SpecError';
  }
}

/** Far above any real spec, far below Temporal's 2 MB payload limit (it warns from 512 KB). */
export const maxSpecBytes = 256 * 1024;

/** YAML aliases are expanded into the input: a few are fine, a "billion laughs" is refused. */
const maxAliasCount = 100;

function readSpecText(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new SpecError(file, [`cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  if (bytes.length > maxSpecBytes) throw new SpecError(file, [`the file is ${bytes.length} bytes; a spec is at most ${maxSpecBytes}`]);
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  if (utf16 || bytes.includes(0)) throw new SpecError(file, [`the file is ${utf16 ? 'UTF-16' : 'not text (it holds NUL bytes; UTF-16?)'}: save it as UTF-8`]);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes).replace(/^\uFEFF/, '');
  if (text.includes('\uFFFD')) throw new SpecError(file, ['the file is not valid UTF-8: save it as UTF-8']);
  return text;
}

export function loadSpec(file: string): LoadedSpec {
  const text = readSpecText(file);
  const lineCounter = new LineCounter();
  let raw: Record<string, unknown> | null;
  let document: ReturnType<typeof parseDocument>;
  try {
    document = parseDocument(text, { lineCounter, prettyErrors: false });
    if (document.errors.length) {
      throw new SpecError(
        file,
        document.errors.map((e) =>
          /call stack/i.test(e.message) ? `nested too deeply to read (more than ${maxInputDepth} levels is refused)` : `line ${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`,
        ),
      );
    }
    raw = document.toJS({ maxAliasCount }) as Record<string, unknown> | null;
  } catch (error) {
    if (error instanceof SpecError) throw error;
    if (error instanceof RangeError) throw new SpecError(file, [`nested too deeply to read (more than ${maxInputDepth} levels is refused)`]);
    if (/alias/i.test((error as Error).message)) throw new SpecError(file, [`more than ${maxAliasCount} YAML alias expansions (an alias bomb?): write the values out`]);
    throw error;
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SpecError(file, ['the spec must be a mapping (YAML) or an object (JSON)']);
  if (nestingDepth(raw) > maxInputDepth) throw new SpecError(file, [`(top level): nested more than ${maxInputDepth} levels deep`]);

  const { workflow = defaultWorkflowType, ...input } = raw;
  // Own keys only: `workflow: toString` names Object.prototype's, not a workflow type.
  const schema = typeof workflow === 'string' && Object.hasOwn(workflowInputSchemas, workflow) ? workflowInputSchemas[workflow] : undefined;
  if (!schema) {
    throw new SpecError(file, [`workflow: unknown workflow type ${JSON.stringify(workflow)}; one of ${Object.keys(workflowInputSchemas).join(', ')}`]);
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new SpecError(
      file,
      parsed.error.issues.map((issue) => {
        const node = document.getIn(issue.path as (string | number)[], true) ?? nearestNode(document, issue.path as (string | number)[]);
        const line = isNode(node) && node.range ? ` (line ${lineCounter.linePos(node.range[0]).line})` : '';
        return `${issue.path.length ? issue.path.join('.') : '(top level)'}${line}: ${issue.message}`;
      }),
    );
  }
  return { workflowType: String(workflow), input };
}

/** A missing field has no node of its own: point at the mapping that should hold it. */
function nearestNode(document: ReturnType<typeof parseDocument>, path: (string | number)[]): unknown {
  for (let length = path.length - 1; length > 0; length--) {
    const node = document.getIn(path.slice(0, length), true);
    if (node) return node;
  }
  return document.contents;
}
