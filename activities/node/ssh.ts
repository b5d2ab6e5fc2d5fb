// How the orchestrator reaches compute nodes over SSH, for the open-iscsi validation and the attach phase:
// `ssh [INITIATOR_SSH_OPTIONS] <INITIATOR_SSH_USER>@<node>` (an ssh_config given with `-F` maps node names
// to addresses, ports and keys).
import { readSettings, type Environment } from '../../settings/load';
import { sshRunner, type CommandRunner } from '../export/commandRunner';

export function nodeSshRunners(env: Environment = process.env): (node: string) => CommandRunner {
  const { INITIATOR_SSH_USER: user, INITIATOR_SSH_OPTIONS: options } = readSettings(['initiator'], env).initiator;
  return (node) => sshRunner(user ? `${user}@${node}` : node, options);
}
