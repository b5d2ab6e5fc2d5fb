// Task queue names shared by workers and workflows (no Node built-ins: workflows import this).

/** The agent on an iSCSI server polls this queue, so that server's work runs there, one at a time. */
export const iscsiServerTaskQueue = (server: string): string => `iscsi-server-${server}`;

/** Each orchestrator worker host also polls this queue: for work that shares local files between steps. */
export const encryptionHostTaskQueue = (host: string): string => `encryption-host-${host}`;
