// The libiscsi initiator driver: each simulated node logs in with its own initiator IQN, from the worker's
// host, with libiscsi's tools and qemu (libiscsi.ts). Per server, as a rule in one tool run: SendTargets
// discovery, a refused login with a wrong CHAP secret, the LUN's serial and NAA, capacity, and one qemu-io
// run for the first 4 KiB and the write-protect refusal; then the LUKS header UUID. The key and decryption
// checks are lunKeyCheck.ts.
import { randomBytes } from 'node:crypto';
import { FailureType, permanentFailure } from '../../lib/failures';
import type { InitiatorDriver, NodeCheckContext, ServerTarget } from './driver';
import { naaMatchesWwid, parseUnitSerial, printedNaa, runEach, tools, writeBack, type Login, type LunAddress, type LunProbe, type PortalListing, type Tool } from './libiscsi';
import { parseLuksPrefix } from './luksHeader';
import { VerdictRecorder, type CheckName } from './verdict';

import { headBytes, lunKeyChecks } from './lunKeyCheck';

export function createLibiscsiDriver(settings: { secretsDir: string }): InitiatorDriver {
  const { secretsDir } = settings;
  const lunHints = new Map<string, number>();
  const keyChecks = lunKeyChecks(secretsDir);

  /** What one LUN answers a node: serial, NAA, capacity and the qemu probe, run together. */
  const lunTools = (address: LunAddress, login: Login) => [
    tools.inquiry(address, login, 0x80),
    tools.inquiry(address, login, 0x83),
    tools.capacity(address, login),
    tools.probe(address, login, headBytes),
  ];

  /**
   * Nodes of a server see the LUN at the same number as a rule, so the LUN the last node found is asked
   * straight away: SendTargets discovery, the wrong-secret login and that LUN's tools, in one tool run.
   * Its serial matching proves the login too. Otherwise the target's LUNs are listed with a login
   * (`iscsi-ls -s`), every disk LUN's serial read, and the one found asked.
   */
  async function checkServer(target: ServerTarget, login: Login, context: NodeCheckContext, verdict: VerdictRecorder) {
    const { server } = target;
    const { expected, checks } = context;
    const hintKey = `${target.address}:${target.port}|${target.iqn}|${expected.serial}`;
    const wrongSecret = checks.wrongChap && context.chap ? randomBytes(12).toString('base64url') : undefined;
    // A login with the wrong secret, as a standard INQUIRY of a LUN known to exist.
    const wrongLogin = (lun: number): Tool<unknown>[] => (wrongSecret ? [{ ...tools.inquiry({ ...target, lun }, login), password: wrongSecret }] : []);
    const discovered = (listing: PortalListing) => {
      const shown = listing.targets.map((t) => t.iqn).join(', ') || 'none';
      const said = listing.messages ? `: ${listing.messages}` : '';
      const listed = listing.targets.find((t) => t.iqn === target.iqn);
      verdict.expect('discovery', listed ? undefined : `${target.address}:${target.port} does not list ${target.iqn} to ${login.initiator} (listed: ${shown})${said}`, server);
      return listed;
    };

    let found: { lun: number; answers: unknown[]; wrong: unknown } | undefined;
    const hint = lunHints.get(hintKey);
    if (hint !== undefined) {
      const [listing, ...outcomes] = await runEach([tools.listPortal(target, login, { luns: false }), ...wrongLogin(hint), ...lunTools({ ...target, lun: hint }, login)], login);
      const wrong = wrongSecret ? outcomes.shift() : undefined;
      if (serialOf(outcomes[0]) === expected.serial) {
        if (!discovered(listing as PortalListing)) return;
        verdict.pass('login', server);
        found = { lun: hint, answers: outcomes, wrong };
      }
    }
    if (!found) {
      const [listing] = await runEach([tools.listPortal(target, login, { luns: true })], login);
      const listed = discovered(listing as PortalListing);
      if (!listed) return;
      if (!verdict.expect('login', listed.luns.length ? undefined : listed.messages.join(' ') || (listing as PortalListing).messages || 'the login listed no LUN', server)) return;
      const disks = listed.luns.filter((l) => l.type === 'DIRECT_ACCESS').map((l) => l.lun);
      const serials = await runEach(disks.map((disk) => tools.inquiry({ ...target, lun: disk }, login, 0x80)), login);
      const lun = disks.find((_, i) => serialOf(serials[i]) === expected.serial);
      if (lun === undefined) {
        const seen = disks.map((disk, i) => `LUN ${disk}: ${serials[i] instanceof Error ? (serials[i] as Error).message : serialOf(serials[i]) || '(no serial)'}`);
        return verdict.fail('identity', `no LUN of ${target.iqn} has serial ${expected.serial} (${seen.join('; ') || 'no disk LUN'})`, server);
      }
      lunHints.set(hintKey, lun);
      const outcomes = await runEach([...wrongLogin(lun), ...lunTools({ ...target, lun }, login).slice(1)], login);
      const wrong = wrongSecret ? outcomes.shift() : undefined;
      found = { lun, answers: [serials[disks.indexOf(lun)], ...outcomes], wrong };
    }

    if (checks.wrongChap && !wrongSecret) verdict.skip('chap-enforced', 'no CHAP credentials in the input', server);
    if (wrongSecret) verdict.expect('chap-enforced', found.wrong instanceof Error ? undefined : 'the target accepted a login with a wrong CHAP secret', server);

    const { lun, answers } = found;
    const address: LunAddress = { ...target, lun };
    const [, naa, size, probe] = answers as [Buffer, Buffer | Error, number | Error, LunProbe | Error];
    const naaProblem = naa instanceof Error ? naa.message : naaMatchesWwid(printedNaa(naa), expected.wwid) ? undefined : `LUN ${lun} has serial ${expected.serial} but NAA ${printedNaa(naa) || '(none)'}, not WWID ${expected.wwid}`;
    if (!verdict.expect('identity', naaProblem, server)) return;
    verdict.expect('capacity', size instanceof Error ? size.message : size === expected.sizeBytes ? undefined : `LUN ${lun} has ${size} bytes; the exported artifact has ${expected.sizeBytes}`, server);

    if (!verdict.expect('read', probe instanceof Error ? `reading the first ${headBytes} bytes: ${probe.message}` : undefined, server)) return;
    const { head, writeProtected, reopen } = probe as LunProbe;
    if (checks.writeRefused) {
      if (writeProtected) verdict.pass('write-refused', server);
      else {
        const write = await orFail(verdict, 'write-refused', server, () => writeBack(address, login, head.subarray(0, 512), secretsDir));
        if (write) verdict.expect('write-refused', write.written ? `LUN ${lun} is writable: qemu reopened it read-write${reopen ? ` (${reopen})` : ''} and the target accepted a write of sector 0's own bytes` : undefined, server);
      }
    }
    if (expected.luks) await checkLuks(address, login, head, context, verdict, server);
  }

  async function checkLuks(address: LunAddress, login: Login, head: Buffer, context: NodeCheckContext, verdict: VerdictRecorder, server: string) {
    const expected = context.expected.luks!;
    const header = parseLuksPrefix(head);
    if ('problem' in header) return verdict.fail('luks-header', header.problem, server);
    if (!verdict.expect('luks-header', expected.uuid === undefined || header.uuid === expected.uuid ? undefined : `LUKS${header.version} header UUID ${header.uuid}, expected ${expected.uuid}`, server)) return;
    if (!context.key) {
      verdict.skip('luks-key', 'no LUKS key reference in the input', server);
      if (context.checks.decryptSample) verdict.skip('decrypt-sample', 'no LUKS key reference in the input', server);
      return;
    }
    const facts = await keyChecks.check(address, login, header, head, context);
    for (const [check, outcome] of [['luks-key', facts.key], ['decrypt-sample', facts.decrypt]] as const) {
      if ('skipped' in outcome) verdict.skip(check, outcome.skipped, server);
      else if (outcome.ok) verdict.pass(check, server);
      else verdict.fail(check, outcome.message, server);
    }
  }

  return {
    kind: 'libiscsi',
    async checkNode(node, context) {
      if (!node.initiatorIqn) throw permanentFailure(FailureType.InvalidInput, `the libiscsi driver needs an initiator IQN for ${node.node}`);
      const login: Login = { initiator: node.initiatorIqn, chap: context.chap };
      const verdict = new VerdictRecorder(node.node, node.initiatorIqn, context.targets.map((t) => t.server));
      await Promise.all(
        context.targets.map((target) =>
          context.onServer(target.server, () => checkServer(target, login, context, verdict)).catch((error: Error) => verdict.fail('reachable', error.message, target.server)),
        ),
      );
      if (context.checks.multipath) verdict.skip('multipath', 'libiscsi has no multipath layer: each server is checked as its own path');
      if (context.expected.content) verdict.skip('content', 'libiscsi mounts nothing: reading a file of the image needs open-iscsi on the node');
      return verdict.finish();
    },
  };
}

const serialOf = (answer: unknown) => (answer instanceof Buffer ? parseUnitSerial(answer) : undefined);

/** Runs `work`; a thrown error becomes the failure of `check` (with the tool's message) and yields undefined. */
async function orFail<T>(verdict: VerdictRecorder, check: CheckName, server: string, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    verdict.fail(check, (error as Error).message, server);
    return undefined;
  }
}
