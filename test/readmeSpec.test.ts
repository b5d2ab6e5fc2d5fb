// The README's lifecycle spec example is held to the schema the workflow uses, and its metrics table to
// the catalogue the workers record from, so both stay true.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../cli/specFile';
import { metricCatalogue } from '../lib/metrics';

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

  it('lists every metric series of the catalogue, with its type, labels and role', () => {
    const section = /## Metrics\n([\s\S]*?)\n## /.exec(fs.readFileSync('README.md', 'utf8'))![1];
    const rows = [...section.matchAll(/^\| `(boot_image_\w+)` \| (\w+) \|([^|]*)\| ([\w-]+) \|/gm)].map(([, name, kind, labels, role]) => ({
      name,
      kind,
      labels: [...labels.matchAll(/`(\w+)`/g)].map((m) => m[1]),
      role,
    }));
    expect(rows).toEqual(Object.values(metricCatalogue).map(({ name, kind, labels, role }) => ({ name, kind, labels: [...labels], role })));
  });
});
