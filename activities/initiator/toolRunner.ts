// Runs initiator tools for the drivers. A node's checks against one server are half a dozen tool runs, and
// forking the worker (a large process) costs milliseconds of its event loop per child, so the tools of one
// check go together as one script to a small long-lived bash helper, which forks for them instead
// (bench/validate.ts measures the difference). Each tool's stdout and stderr come back merged, with its
// exit code. Secrets reach the helper through its stdin only, never argv or a file: libiscsi's tools get
// LIBISCSI_CHAP_* in their environment, qemu's secret object reads /dev/stdin fed by printf (a builtin).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { redact, shellQuote } from '../export/commandRunner';

export interface Chap {
  user: string;
  password: string;
}

export interface ToolCall {
  argv: string[];
  /** Log in with this CHAP password instead of the session's (the wrong-secret check). */
  password?: string;
  /** Feed the session's CHAP password to the tool's stdin (qemu: `--object secret,file=/dev/stdin`). */
  passwordOnStdin?: boolean;
}

export interface ToolResult {
  exitCode: number;
  /** stdout and stderr, merged, secrets scrubbed (latin1 round-trips binary output such as VPD pages). */
  output: Buffer;
}

/** A tool that hangs (an unanswering portal) is killed after this long and reported with exit 124. */
export const toolTimeoutSeconds = 60;

export async function runTools(calls: ToolCall[], chap?: Chap, timeoutSeconds = toolTimeoutSeconds): Promise<ToolResult[]> {
  const marker = `@@tool-${randomBytes(8).toString('hex')}@@`;
  const exports = chap ? [`export LIBISCSI_CHAP_USERNAME=${shellQuote(chap.user)} LIBISCSI_CHAP_PASSWORD=${shellQuote(chap.password)}`] : [];
  // Each tool runs in the background so the helper can report its PID (for the timeout) before waiting for it.
  const lines = calls.map((call, index) => {
    let line = call.argv.map(shellQuote).join(' ');
    if (call.password !== undefined) line = `LIBISCSI_CHAP_PASSWORD=${shellQuote(call.password)} ${line}`;
    line = call.passwordOnStdin ? `printf '%s' "\${LIBISCSI_CHAP_PASSWORD-}" | ${line}` : `${line} < /dev/null`;
    return `${line} & printf '%s ${index} %s\\n' "$id" $! >&3; wait $!; printf '\\n${marker} %d\\n' $?`;
  });
  const { output, timedOut } = await helper().run([...exports, ...lines].join('\n'), timeoutSeconds);
  const secrets = [chap?.password ?? '', ...calls.map((c) => c.password ?? '')];
  return splitOutputs(Buffer.from(redact(output.toString('latin1'), secrets), 'latin1'), marker, calls.length).map((result, index) =>
    timedOut.has(index) ? { exitCode: 124, output: Buffer.concat([result.output, Buffer.from(`\n${calls[index].argv[0]}: no answer within ${timeoutSeconds} s`)]) } : result,
  );
}

function splitOutputs(output: Buffer, marker: string, count: number): ToolResult[] {
  const results: ToolResult[] = [];
  const separator = Buffer.from(`\n${marker} `);
  let start = 0;
  for (let i = 0; i < count; i++) {
    const at = output.indexOf(separator, start);
    if (at < 0) throw new Error(`the tool runner stopped after ${i} of ${count} tools: ${output.subarray(start).toString('latin1').trim() || 'no output'}`);
    const end = output.indexOf('\n', at + separator.length);
    results.push({ output: output.subarray(start, at), exitCode: Number(output.subarray(at + separator.length, end).toString()) });
    start = end + 1;
  }
  return results;
}

// The helper reads `<id> <bytes>\n<script>` requests, runs each script in a background subshell with its
// output in <dir>/<id>, and answers `<id>\n` when it is done; the script itself reports each tool it
// starts as `<id> <index> <pid>\n` on fd 3. When its stdin closes (the worker exited), it waits for what
// runs and removes its directory; killed along with the worker, it removes it at once.
const helperScript = `export LC_ALL=C
exec 3>&1
trap 'rm -rf "$1"; exit 143' TERM INT HUP
while IFS=' ' read -r id length; do
  IFS= read -r -N "$length" script || break
  ( eval "$script" > "$1/$id" 2>&1; printf '%s\\n' "$id" ) &
done
wait
rm -rf "$1"`;

interface Helper {
  /** Runs a script; `timedOut` holds the indexes of the tools killed after `timeoutSeconds`. */
  run(script: string, timeoutSeconds: number): Promise<{ output: Buffer; timedOut: Set<number> }>;
}

interface Running {
  resolve: (result: { output: Buffer; timedOut: Set<number> }) => void;
  reject: (error: Error) => void;
  timedOut: Set<number>;
  timeoutSeconds: number;
  /** The watchdog of the tool running now (one at a time per script). */
  watchdog?: NodeJS.Timeout;
}

/** Ends a tool that has run too long: SIGTERM, then SIGKILL if it is still there 5 s later. */
function watch(running: Running, index: number, pid: number): NodeJS.Timeout {
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  };
  return setTimeout(() => {
    running.timedOut.add(index);
    kill('SIGTERM');
    running.watchdog = setTimeout(() => kill('SIGKILL'), 5000).unref();
  }, running.timeoutSeconds * 1000).unref();
}

let current: Helper | undefined;

const helper = (): Helper => (current ??= startHelper());

function startHelper(): Helper {
  const dir = mkdtempSync(path.join(tmpdir(), 'initiator-tools-'));
  const child: ChildProcessWithoutNullStreams = spawn('bash', ['-c', helperScript, 'initiator-tools', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  const pending = new Map<string, Running>();
  let stderr = '';
  let next = 0;
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  // Referenced only while a request is pending: an idle helper must not keep the worker alive (it exits
  // on its own when its stdin closes with the worker).
  const streams = [child, child.stdin, child.stdout, child.stderr] as unknown as { ref(): void; unref(): void }[];
  const hold = (busy: boolean) => streams.forEach((stream) => (busy ? stream.ref() : stream.unref()));
  hold(false);
  createInterface({ input: child.stdout }).on('line', (line) => {
    const [id, index, pid] = line.split(' ');
    const waiting = pending.get(id);
    if (!waiting) return;
    clearTimeout(waiting.watchdog);
    if (pid !== undefined) {
      waiting.watchdog = watch(waiting, Number(index), Number(pid));
      return;
    }
    pending.delete(id);
    if (!pending.size) hold(false);
    const file = path.join(dir, id);
    try {
      const output = readFileSync(file);
      unlinkSync(file);
      waiting.resolve({ output, timedOut: waiting.timedOut });
    } catch (error) {
      waiting.reject(error as Error);
    }
  });
  const stop = (reason: string) => {
    if (current === self) current = undefined;
    for (const waiting of pending.values()) {
      clearTimeout(waiting.watchdog);
      waiting.reject(new Error(`the initiator tool helper ${reason}${stderr ? `: ${stderr.trim()}` : ''}`));
    }
    pending.clear();
    rmSync(dir, { recursive: true, force: true });
  };
  child.on('exit', (code, signal) => stop(`exited (${signal ?? code})`));
  child.on('error', (error) => stop(`failed: ${error.message}`));
  child.stdin.on('error', () => undefined); // a dead helper is reported by 'exit'

  const self: Helper = {
    run(script, timeoutSeconds) {
      const id = String(next++);
      return new Promise((resolve, reject) => {
        if (!pending.size) hold(true);
        pending.set(id, { resolve, reject, timedOut: new Set(), timeoutSeconds });
        child.stdin.write(`${id} ${Buffer.byteLength(script)}\n${script}`);
      });
    },
  };
  return self;
}
