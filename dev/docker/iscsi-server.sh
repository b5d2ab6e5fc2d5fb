#!/bin/sh
# An iSCSI server as the dev stack has it: tgtd, and this server's agent polling its task queue
# (started as the agent's systemd unit starts it).
set -e
tgtd -C "${TGT_CONTROL_PORT:-0}" --iscsi "portal=0.0.0.0:3260"
exec node --import tsx workers/main.ts --role iscsi-server --server "$ISCSI_SERVER_NAME"
