// `npm run bench -- <name> [options]`: runs bench/<name>.ts with the options as its arguments.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const available = fs.readdirSync(benchDir).filter((f) => /^[a-z][a-z0-9-]*\.ts$/.test(f) && f !== 'run.ts').map((f) => f.slice(0, -3));
const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join('|')}> [options]`);
  process.exit(2);
}
process.argv = [process.argv[0], path.join(benchDir, `${name}.ts`), ...args];
await import(pathToFileURL(process.argv[1]).href);
