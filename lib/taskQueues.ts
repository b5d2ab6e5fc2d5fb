// Task queue names shared by workers and workflows (no Node built-ins: workflows import this).

/** The agent on an iSCSI server polls this queue, so that server's work runs there, one at a time. */
export const iscsiServerTaskQueue = (server: string): string => `iscsi-server-${server}`;
