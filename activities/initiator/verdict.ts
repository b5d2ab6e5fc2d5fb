// A node's verdict: which checks passed, which failed with the tool's own message, which were skipped and why.
// The types live in lib/nodeChecks.ts (the workflows' pure code reads verdicts too).
import { checkNames, type CheckFailure, type CheckName, type CheckSkip, type NodeVerdict } from '../../lib/nodeChecks';

export { checkNames, type CheckFailure, type CheckName, type CheckSkip, type NodeVerdict };

/** Longest tool message kept in a verdict: enough to read the tool's reason, bounded for history. */
const maxMessage = 400;

/** Records a node's checks as they finish (servers are checked concurrently); reports them in server order. */
export class VerdictRecorder {
  private readonly started = Date.now();
  private readonly passed: { check: CheckName; server?: string }[] = [];
  private readonly failed: CheckFailure[] = [];
  private readonly skipped: CheckSkip[] = [];

  constructor(
    private readonly node: string,
    private initiatorIqn?: string,
    /** Server names in the order reports list them; checks of the node as a whole come first. */
    private readonly servers: string[] = [],
  ) {}

  setInitiator(iqn: string) {
    this.initiatorIqn = iqn;
  }

  pass(check: CheckName, server?: string) {
    this.passed.push({ check, server });
  }

  fail(check: CheckName, message: string, server?: string) {
    const text = message.replace(/\s+/g, ' ').trim() || '(no message)';
    this.failed.push({ check, ...(server ? { server } : {}), message: text.length > maxMessage ? `${text.slice(0, maxMessage)}…` : text });
  }

  skip(check: CheckName, reason: string, server?: string) {
    this.skipped.push({ check, ...(server ? { server } : {}), reason });
  }

  /** Records `check` as passed when `problem` is undefined, failed with it otherwise; returns whether it passed. */
  expect(check: CheckName, problem: string | undefined, server?: string): boolean {
    if (problem === undefined) this.pass(check, server);
    else this.fail(check, problem, server);
    return problem === undefined;
  }

  finish(): NodeVerdict {
    const rank = (entry: { server?: string }) => (entry.server === undefined ? -1 : this.servers.indexOf(entry.server));
    const ordered = <T extends { server?: string }>(entries: T[]) => [...entries].sort((a, b) => rank(a) - rank(b));
    return {
      node: this.node,
      ...(this.initiatorIqn ? { initiatorIqn: this.initiatorIqn } : {}),
      ok: this.failed.length === 0,
      passed: ordered(this.passed).map((p) => (p.server ? `${p.server}:${p.check}` : p.check)),
      failed: ordered(this.failed),
      skipped: ordered(this.skipped),
      ms: Date.now() - this.started,
    };
  }
}

/** "nid004 iscsi1 discovery: <tool message>" */
export const describeFailure = (node: string, failure: CheckFailure) => `${node}${failure.server ? ` ${failure.server}` : ''} ${failure.check}: ${failure.message}`;
