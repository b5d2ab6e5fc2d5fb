// How the orchestrator reaches compute nodes over SSH, for the open-iscsi validation and the attach phase:
// `ssh [INITIATOR_SSH_OPTIONS] <INITIATOR_SSH_USER>@<node>` (an ssh_config given with `-F` maps node names
// to addresses, ports and keys).
import { sshRunner, type CommandRunner } from '../export/commandRunner';

export function nodeSshRunners(env: NodeJS.ProcessEnv = process.env): (node: string) => CommandRunner {
  const options = (env.INITIATOR_SSH_OPTIONS ?? '-o BatchMode=yes -o ConnectTimeout=10').split(/\s+/).filter(Boolean);
  const user = env.INITIATOR_SSH_USER ?? 'root';
  return (node) => sshRunner(user ? `${user}@${node}` : node, options);
}
