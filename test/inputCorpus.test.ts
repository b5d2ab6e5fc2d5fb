// A corpus of malformed inputs, each run through the workflows' own check (parseInput with the
// workflow's schema, what every surface's input meets) and through `imagectl validate`'s reader
// (the same input as a spec file): each is refused naming the field, none crashes, and the valid
// controls pass. Files only imagectl reads (encodings, alias bombs, sizes) have their own cases.
import { ApplicationFailure } from '@temporalio/common';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpec, SpecError } from '../cli/specFile';
import { parseInput } from '../lib/parseInput';
import { workflowInputSchemas } from '../lib/specs/registry';
import { cases, controls, linesNaming } from './helpers/inputCorpus';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corpus-'));
let files = 0;
const specFile = (content: string | Buffer) => {
  const file = path.join(tmp, `spec-${files++}.yaml`);
  fs.writeFileSync(file, content);
  return file;
};

/** The problems each surface reports, as `path: message` lines; throws on anything but a clear refusal. */
function workflowProblems(type: string, input: unknown): string[] {
  try {
    parseInput(workflowInputSchemas[type], input, `${type} input`);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect((error as ApplicationFailure).type).toBe('InvalidInput');
    expect((error as ApplicationFailure).nonRetryable).toBe(true);
    return ((error as ApplicationFailure).details?.[0] as { issues: string[] }).issues;
  }
}

function imagectlProblems(content: string | Buffer): string[] {
  try {
    loadSpec(specFile(content));
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return (error as SpecError).problems;
  }
}

describe('the malformed-input corpus', () => {
  it(`holds at least 150 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
  });

  it('accepts the valid controls on both surfaces', () => {
    for (const [type, control] of Object.entries(controls)) {
      expect(workflowProblems(type, control), type).toEqual([]);
      expect(imagectlProblems(JSON.stringify({ workflow: type, ...control })), type).toEqual([]);
    }
  });

  it.each(cases)('$name: refused naming $path', ({ type, input, path: field, message }) => {
    const expectLine = (lines: string[], surface: string) => {
      const named = linesNaming(lines, field);
      expect(named, `${surface}: ${lines.join(' | ')}`).not.toEqual([]);
      if (message) expect(named.join(' | '), surface).toMatch(message);
    };
    expectLine(workflowProblems(type, input), 'workflow');
    expectLine(imagectlProblems(JSON.stringify({ workflow: type, ...input })), 'imagectl');
  });
});

describe('spec files only imagectl reads', () => {
  const control = 'workflow: importImage\nname: compute\nrootfs: { file: /srv/rootfs.squashfs }\n';
  const refusals: [string, string | Buffer, RegExp][] = [
    ['UTF-16 LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(control, 'utf16le')]), /UTF-16: save it as UTF-8/],
    ['UTF-16 BE with a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(control, 'utf16le').swap16()]), /UTF-16: save it as UTF-8/],
    ['UTF-16 without a BOM', Buffer.from(control, 'utf16le'), /NUL bytes; UTF-16\?/],
    ['Latin-1 bytes', Buffer.from('workflow: importImage\nname: caf\xe9\nrootfs: { file: /r }\n', 'latin1'), /not valid UTF-8/],
    ['a billion-laughs alias bomb', ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`), 'workflow: importImage', 'name: bomb', 'rootfs: { file: /r }', ''].join('\n'), /alias expansions \(an alias bomb\?\)/],
    ['a file of 300 KiB', `${control}description: "${'x'.repeat(300 * 1024)}"\n`, /a spec is at most 262144/],
    ['YAML nested 40 levels deep', `${control}extra: ${'['.repeat(40)}${']'.repeat(40)}\n`, /nested more than 32 levels deep/],
    ['JSON nested 10,000 levels deep', `{"workflow":"importImage","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, /nested (too deeply|more than 32)/],
    ['a YAML list, not a mapping', '- workflow: importImage\n', /must be a mapping/],
    ['an empty file', '', /must be a mapping/],
    ['a workflow naming an inherited property', 'workflow: hasOwnProperty\n', /unknown workflow type "hasOwnProperty"/],
  ];

  it.each(refusals)('%s is refused with a clear message', (_name, content, message) => {
    expect(imagectlProblems(content).join(' | ')).toMatch(message);
  });

  it('a UTF-8 file with a BOM is read', () => {
    expect(imagectlProblems(`\uFEFF${control}`)).toEqual([]);
  });
});
