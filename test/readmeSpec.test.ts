// The README's lifecycle spec example is held to the schema the workflow uses, so it stays true.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../cli/specFile';

describe('README', () => {
  it('shows a lifecycle spec that imagectl validate accepts, with every phase in it', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const example = /### Spec files[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'readme-')), 'lifecycle.yaml');
    fs.writeFileSync(file, example!);
    const spec = loadSpec(file);
    expect(spec.workflowType).toBe('imageLifecycle');
    expect(Object.keys(spec.input as object)).toEqual(['name', 'import', 'customize', 'encrypt', 'export', 'validate', 'bootParameters', 'attach']);
  });
});
