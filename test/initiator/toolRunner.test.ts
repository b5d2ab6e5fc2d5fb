import { describe, expect, it } from 'vitest';
import { runTools } from '../../activities/initiator/toolRunner';

describe('initiator tool runner', () => {
  it("returns each tool's merged output and exit code, in order, secrets scrubbed", async () => {
    const chap = { user: 'node', password: 'pa55-word' };
    const results = await runTools(
      [
        { argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'] },
        { argv: ['sh', '-c', 'echo "secret is $LIBISCSI_CHAP_PASSWORD"'] },
        { argv: ['cat'], passwordOnStdin: true },
        { argv: ['sh', '-c', 'echo "$LIBISCSI_CHAP_PASSWORD"'], password: 'wrong-one' },
      ],
      chap,
    );
    expect(results.map((r) => r.exitCode)).toEqual([3, 0, 0, 0]);
    expect(results[0].output.toString()).toBe('out\nerr\n');
    for (const result of results.slice(1)) expect(result.output.toString()).not.toMatch(/pa55-word|wrong-one/);
    expect(results[2].output.toString()).toContain('***');
  });

  it('kills a tool that outlives its timeout and says so; the tools after it still run', async () => {
    const started = Date.now();
    const [hung, after] = await runTools([{ argv: ['sleep', '30'] }, { argv: ['echo', 'next'] }], undefined, 1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(hung.exitCode).toBe(124);
    expect(hung.output.toString()).toContain('sleep: no answer within 1 s');
    expect(after).toEqual({ exitCode: 0, output: Buffer.from('next\n') });
  });
});
