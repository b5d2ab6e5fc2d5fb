// Spec files (YAML or JSON): which workflow to start and its input, validated with the same zod
// schema the workflow uses, every problem reported at once with its path and line in the file.
import fs from 'node:fs';
import { LineCounter, isNode, parseDocument } from 'yaml';
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

export function loadSpec(file: string): LoadedSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SpecError(file, [`cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length) {
    throw new SpecError(file, document.errors.map((e) => `line ${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`));
  }
  const raw = document.toJS() as Record<string, unknown> | null;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SpecError(file, ['the spec must be a mapping (YAML) or an object (JSON)']);

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
