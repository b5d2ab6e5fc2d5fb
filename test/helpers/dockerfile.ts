// Reads a Dockerfile into its stages (no Docker engine runs here): base image, instructions, and the
// CMD and ENV a container of the stage starts with.
import fs from 'node:fs';

export interface Stage {
  name: string;
  from: string;
  instructions: { keyword: string; args: string }[];
  env: Record<string, string>;
  cmd?: string[];
  user?: string;
}

export function readDockerfile(file: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = fs.readFileSync(file, 'utf8').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword, rest] = /^(\w+)\s+(.*)$/.exec(line)!;
    const upper = keyword.toUpperCase();
    const stage = stages.at(-1);
    if (upper === 'ARG' && !stage) {
      const [name, value] = rest.split('=');
      args[name] = value;
    } else if (upper === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      const base = stages.find((s) => s.name === image);
      stages.push({ name: name ?? String(stages.length), from: image.replace(/\$\{(\w+)\}/g, (_, arg: string) => args[arg]), instructions: [], env: { ...base?.env } });
    } else if (stage) {
      stage.instructions.push({ keyword: upper, args: rest });
      if (upper === 'ENV') for (const [, name, value] of rest.matchAll(/(\w+)=(\S+)/g)) stage.env[name] = value;
      if (upper === 'CMD') stage.cmd = JSON.parse(rest);
      if (upper === 'USER') stage.user = rest;
    }
  }
  return { args, stages };
}
