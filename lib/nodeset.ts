// ClusterShell node set syntax (the `nodeset`/`clush -w` notation sites already use): `ocean[1-1000]`,
// `x3000c0s[1-3]b0n[0-1]`, `node[001-010,020]`, `a,b[2-4/2]`. Pure: workflows import it.
// Supported: comma lists, bracketed range sets (ranges, zero padding, `/step`), several bracket
// groups per name (their cartesian product). Not supported: `@group` sources and the `!&^` operators.

export class NodesetSyntaxError extends Error {
  constructor(pattern: string, reason: string) {
    super(`invalid node set ${JSON.stringify(pattern)}: ${reason}`);
    this.name = 'NodesetSyntaxError';
  }
}

/** Upper bound on one expansion, so a typo like `n[1-1000000000]` fails instead of exhausting memory. */
export const maxExpandedNodes = 1_000_000;

const plainName = /^\s*[A-Za-z0-9._:-]+\s*$/;

/** Expands a node set into node names, in order, without duplicates. */
export function expandNodeset(pattern: string): string[] {
  // A plain name, as in a list of thousands, is itself: the general parse costs a rollout's input parse most of its time.
  if (plainName.test(pattern)) return [pattern.trim()];
  const nodes = new Set<string>();
  for (const part of splitTopLevel(pattern)) {
    for (const node of expandOne(pattern, part)) {
      nodes.add(node);
      if (nodes.size > maxExpandedNodes) throw new NodesetSyntaxError(pattern, `expands to more than ${maxExpandedNodes} nodes`);
    }
  }
  return [...nodes];
}

function splitTopLevel(pattern: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of pattern.trim()) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (depth < 0) throw new NodesetSyntaxError(pattern, 'unbalanced "]"');
    if (depth > 1) throw new NodesetSyntaxError(pattern, 'nested "["');
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  if (depth !== 0) throw new NodesetSyntaxError(pattern, 'unbalanced "["');
  parts.push(current);
  return parts.map((part) => part.trim()).map((part) => {
    if (!part) throw new NodesetSyntaxError(pattern, 'empty element in comma list');
    return part;
  });
}

function expandOne(pattern: string, part: string): string[] {
  const pieces = part.split(/(\[[^\]]*\])/).filter((piece) => piece !== '');
  let names = [''];
  for (const piece of pieces) {
    const values = piece.startsWith('[') ? expandRangeSet(pattern, piece.slice(1, -1)) : [checkedText(pattern, piece)];
    names = names.flatMap((prefix) => values.map((value) => prefix + value));
  }
  return names;
}

function checkedText(pattern: string, text: string): string {
  const bad = /[^A-Za-z0-9._:-]/.exec(text);
  if (bad) throw new NodesetSyntaxError(pattern, `unexpected character ${JSON.stringify(bad[0])}${bad[0] === '@' ? ' (node groups are not supported)' : ''}`);
  return text;
}

function expandRangeSet(pattern: string, body: string): string[] {
  if (!body) throw new NodesetSyntaxError(pattern, 'empty "[]"');
  return body.split(',').flatMap((item) => {
    const match = /^\s*(\d+)(?:-(\d+)(?:\/(\d+))?)?\s*$/.exec(item);
    if (!match) throw new NodesetSyntaxError(pattern, `bad range ${JSON.stringify(item)} (expected N, N-M or N-M/STEP)`);
    const [, startText, endText, stepText] = match;
    const start = Number(startText);
    const end = endText === undefined ? start : Number(endText);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (end < start) throw new NodesetSyntaxError(pattern, `range ${item} goes backwards`);
    if (step < 1) throw new NodesetSyntaxError(pattern, `range ${item} has step 0`);
    if ((end - start) / step >= maxExpandedNodes) throw new NodesetSyntaxError(pattern, `range ${item} is larger than ${maxExpandedNodes}`);
    const width = paddingOf(startText);
    if (width && endText !== undefined && endText.length !== width) {
      throw new NodesetSyntaxError(pattern, `range ${item} mixes padding widths ${startText.length} and ${endText.length}`);
    }
    const values: string[] = [];
    for (let n = start; n <= end; n += step) values.push(String(n).padStart(width, '0'));
    return values;
  });
}

// Folding: each name is split into text and numeric slots; names that differ in one slot only are merged
// into a range set for that slot, one slot at a time (last first), until nothing merges.

interface Shape {
  texts: string[];
  slots: string[][]; // per numeric slot: the number strings it stands for, as written (padding kept)
}

/** Folds node names into the shortest ClusterShell node set this simple algorithm finds. */
export function foldNodeset(nodes: Iterable<string>): string {
  let shapes = [...new Set(nodes)].map(toShape);
  const slotCounts = new Set(shapes.map((shape) => shape.slots.length));
  for (const slotCount of slotCounts) {
    let changed = true;
    while (changed) {
      changed = false;
      for (let slot = slotCount - 1; slot >= 0; slot--) {
        const merged = mergeOnSlot(shapes, slotCount, slot);
        if (merged.length < shapes.length) changed = true;
        shapes = merged;
      }
    }
  }
  return shapes
    .map(render)
    .sort(compareNatural)
    .join(',');
}

function toShape(node: string): Shape {
  const tokens = node.split(/(\d+)/);
  return { texts: tokens.filter((_, i) => i % 2 === 0), slots: tokens.filter((_, i) => i % 2 === 1).map((n) => [n]) };
}

function mergeOnSlot(shapes: Shape[], slotCount: number, slot: number): Shape[] {
  const groups = new Map<string, Shape>();
  const result: Shape[] = [];
  for (const shape of shapes) {
    if (shape.slots.length !== slotCount) {
      result.push(shape);
      continue;
    }
    const key = JSON.stringify([shape.texts, shape.slots.map((values, i) => (i === slot ? null : values))]);
    const existing = groups.get(key);
    if (existing) existing.slots[slot] = [...existing.slots[slot], ...shape.slots[slot]];
    else {
      const copy = { texts: shape.texts, slots: shape.slots.map((values) => [...values]) };
      groups.set(key, copy);
      result.push(copy);
    }
  }
  return result;
}

function render(shape: Shape): string {
  return shape.texts
    .map((text, i) => {
      const values = shape.slots[i];
      if (!values) return text;
      const folded = foldNumbers(values);
      return text + (values.length === 1 ? folded : `[${folded}]`);
    })
    .join('');
}

/** `["1","2","3","7","08","09","10"]` → `"1-3,7,08-10"`. */
function foldNumbers(values: string[]): string {
  const sorted = [...new Set(values)].sort((a, b) => Number(a) - Number(b) || a.length - b.length);
  const runs: { first: string; last: string; width: number }[] = [];
  for (const value of sorted) {
    const run = runs.find((r) => Number(value) === Number(r.last) + 1 && (r.width ? value.length === r.width : paddingOf(value) === 0));
    if (run) run.last = value;
    else runs.push({ first: value, last: value, width: paddingOf(value) });
  }
  return runs.map((run) => (run.first === run.last ? run.first : `${run.first}-${run.last}`)).join(',');
}

/** The zero-padded width a number is written with, or 0 when it is not padded. */
const paddingOf = (digits: string) => (digits.length > 1 && digits.startsWith('0') ? digits.length : 0);

const compareNatural = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
