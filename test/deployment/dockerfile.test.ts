// The Dockerfile cannot be built here (no Docker engine): its stages are checked against the
// project instead, and its build step and each role's CMD are run as the image would run them.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readDockerfile } from '../helpers/dockerfile';

const { stages } = readDockerfile('Dockerfile');
const stage = (name: string) => stages.find((s) => s.name === name)!;
const compose = parse(fs.readFileSync('docker-compose.yml', 'utf8'), { merge: true });

describe('Dockerfile', () => {
  it('pins every base image to an exact version', () => {
    for (const { name, from } of stages) expect(from, name).toMatch(/^[\w./-]+:\d+\.\d+\.\d+[\w.-]*$/);
  });

  it('copies only what exists, and every source directory the workers import', () => {
    for (const { instructions } of stages) {
      for (const { args } of instructions.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))) {
        for (const source of args.split(/\s+/).slice(0, -1)) expect(fs.existsSync(source), source).toBe(true);
      }
    }
    const copied = stage('build').instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/)[0]);
    const imported = new Set<string>();
    for (const dir of ['workers', 'activities', 'workflows', 'settings', 'lib', 'cli', 'sim']) {
      for (const file of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
        for (const [, target] of fs.readFileSync(`${dir}/${file}`, 'utf8').matchAll(/from '(\.\.?\/[^']+)'/g)) {
          const resolved = new URL(target, `file:///${dir}/${file}`).pathname.slice(1).split('/')[0];
          imported.add(resolved);
        }
      }
    }
    for (const dir of imported) if (!dir.endsWith('.ts')) expect(copied, `${dir}/ is imported but not copied`).toContain(dir);
  });

  it('runs the orchestrator unprivileged and the agent as root, each started as its systemd unit starts it', () => {
    expect(stage('orchestrator').user).toBe('node');
    expect(stage('agent').user).toBeUndefined();
    const unitArgs = (unit: string) => /ExecStart=\/usr\/bin\/env (.*)$/m.exec(fs.readFileSync(`workers/systemd/${unit}`, 'utf8'))![1].replace('${ISCSI_SERVER_NAME}', '"$ISCSI_SERVER_NAME"');
    expect(stage('orchestrator').cmd!.join(' ')).toBe(unitArgs('boot-image-orchestrator.service'));
    expect(stage('agent').cmd!.at(-1)).toBe(`exec ${unitArgs('boot-image-agent.service')}`);
  });

  it("has every target the compose file builds", () => {
    const targets = Object.values(compose.services as Record<string, { build?: { target?: string } }>).map((s) => s.build?.target).filter(Boolean);
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) expect(stages.map((s) => s.name)).toContain(target);
  });

  it("prebuilds a workflow bundle the orchestrator's WORKFLOW_BUNDLE points at", () => {
    const bundling = stage('build').instructions.find((i) => i.keyword === 'RUN' && i.args.includes('bundleWorkflows'))!;
    const out = bundling.args.split(/\s+/).at(-1)!;
    expect(stage('orchestrator').env.WORKFLOW_BUNDLE).toBe(out);
    // test/deployment/entryPoints.test.ts runs this step and starts the orchestrator from its bundle.
  });
});
