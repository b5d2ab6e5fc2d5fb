// The simulator's stand-in for ansible-playbook on an image root (CFS runs Ansible in a pod; no
// Ansible against a chroot runs here). It applies a small, deterministic subset of Ansible tasks to
// the unpacked image root: copy (content), file (directory/touch/absent), lineinfile, fail, and
// debug. Any other module fails the layer, as a failing play would.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

interface Task {
  name?: string;
  [module: string]: unknown;
}

export class PlaybookFailed extends Error {}

function inRoot(root: string, target: unknown): string {
  if (typeof target !== 'string' || !target.startsWith('/')) throw new PlaybookFailed(`path ${JSON.stringify(target)} must be absolute`);
  const resolved = path.resolve(root, `.${target}`);
  if (!resolved.startsWith(root + path.sep)) throw new PlaybookFailed(`path ${target} leaves the image root`);
  return resolved;
}

const modules: Record<string, (root: string, args: Record<string, unknown>) => void> = {
  copy(root, args) {
    const dest = inRoot(root, args.dest);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, String(args.content ?? ''), { mode: args.mode ? parseInt(String(args.mode), 8) : 0o644 });
  },
  file(root, args) {
    const target = inRoot(root, args.path);
    if (args.state === 'directory') fs.mkdirSync(target, { recursive: true });
    else if (args.state === 'absent') fs.rmSync(target, { recursive: true, force: true });
    else if (args.state === 'touch') fs.closeSync(fs.openSync(target, 'a'));
    else throw new PlaybookFailed(`file: state ${JSON.stringify(args.state)} is not supported`);
  },
  lineinfile(root, args) {
    const target = inRoot(root, args.path);
    const existing = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : args.create ? '' : null;
    if (existing === null) throw new PlaybookFailed(`lineinfile: ${args.path} does not exist`);
    const line = String(args.line);
    if (!existing.split('\n').includes(line)) fs.writeFileSync(target, `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${line}\n`);
  },
  fail(_root, args) {
    throw new PlaybookFailed(String(args.msg ?? 'Failed as requested from task'));
  },
  debug() {},
};

/** Runs every task of every play in the playbook against the image root, in order. */
export function applyPlaybook(root: string, playbookFile: string): string[] {
  const plays = parse(fs.readFileSync(playbookFile, 'utf8')) as { tasks?: Task[] }[];
  if (!Array.isArray(plays)) throw new PlaybookFailed(`${path.basename(playbookFile)} is not a list of plays`);
  const log: string[] = [];
  for (const play of plays) {
    for (const task of play.tasks ?? []) {
      const module = Object.keys(task).find((key) => key !== 'name' && key !== 'when' && key !== 'become');
      const run = module ? modules[module.replace(/^ansible\.builtin\./, '')] : undefined;
      if (!run) throw new PlaybookFailed(`task ${JSON.stringify(task.name ?? module)}: module ${module} is not supported by the simulator`);
      run(root, (task[module!] ?? {}) as Record<string, unknown>);
      log.push(`ok: ${task.name ?? module}`);
    }
  }
  return log;
}
