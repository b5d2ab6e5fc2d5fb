// Runs the target tools (tgtadm, targetcli, cat) on the iSCSI server: locally where the agent runs on the
// server itself, or over SSH for sites that refuse agents (README.md). Arguments are argv arrays, never a
// shell string; values listed in `secrets` are scrubbed from every error this module raises.
import { execa } from 'execa';
import type { Readable } from 'node:stream';
import { OperationAborted } from './serialize';

export interface RunOptions {
  /** Written to the command's stdin (how CHAP passwords reach targetcli without entering argv); bytes as they are. */
  input?: string | Uint8Array;
  /** Streamed to the command's stdin instead (a staged artifact's bytes). */
  stdin?: Readable;
  /** Values to scrub from error messages and output quoted in errors. */
  secrets?: string[];
  /** Stderr as it arrives (progress lines of long commands). */
  onStderr?: (text: string) => void;
  /** Kills the command (and over SSH, the session) when aborted: an activity that timed out or was cancelled. */
  signal?: AbortSignal;
}

export interface CommandRunner {
  /** Where commands run, for messages ("local" or the SSH destination). */
  readonly where: string;
  /** stderr too: interactive targetcli reports a failed line there and still exits 0. */
  run(argv: string[], options?: RunOptions): Promise<{ stdout: string; stderr?: string }>;
}

export class CommandFailed extends Error {
  constructor(
    readonly argv: string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    where: string,
  ) {
    super(`${argv.join(' ')} failed on ${where} (exit ${exitCode ?? 'none'}): ${stderr.trim() || '(no stderr)'}`);
    this.name = 'CommandFailed';
  }
}

export const redact = (text: string, secrets: string[] = []): string =>
  secrets.filter((secret) => secret.length > 0).reduce((out, secret) => out.replaceAll(secret, '***'), text);

async function runRedacted(where: string, file: string, args: string[], shown: string[], options: RunOptions): Promise<{ stdout: string; stderr: string }> {
  const running = execa(file, args, { input: options.stdin ?? options.input ?? '', reject: false, stripFinalNewline: false, cancelSignal: options.signal });
  if (options.onStderr) running.stderr.on('data', (chunk: Buffer) => options.onStderr!(chunk.toString()));
  const result = await running;
  if (result.exitCode === 0 && !result.failed) return { stdout: result.stdout, stderr: result.stderr };
  if (result.isCanceled) throw new OperationAborted(options.signal?.reason);
  const stderr = result.stderr || result.stdout || result.shortMessage || '';
  throw new CommandFailed(shown.map((arg) => redact(arg, options.secrets)), result.exitCode, redact(stderr, options.secrets), where);
}

export function localRunner(): CommandRunner {
  return {
    where: 'local',
    run: ([file, ...args], options = {}) => runRedacted('local', file, args, [file, ...args], options),
  };
}

/**
 * Runs each command as `ssh [sshOptions] destination -- <quoted argv>`. The remote side still sees one
 * command per call, so the per-server serialization and the argv/stdin split for secrets are unchanged.
 */
export function sshRunner(destination: string, sshOptions: string[] = ['-o', 'BatchMode=yes']): CommandRunner {
  return {
    where: destination,
    run: (argv, options = {}) => runRedacted(destination, 'ssh', [...sshOptions, destination, '--', argv.map(shellQuote).join(' ')], argv, options),
  };
}

/** POSIX single-quoting for the remote shell ssh hands its command to. */
export const shellQuote = (arg: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);
