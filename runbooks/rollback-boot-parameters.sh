#!/usr/bin/env bash
# Put nodes' boot parameters back as they were before a rollout (its change id: the rollout's
# workflow id, printed by the rollout and the demo), from the snapshot kept in S3; each restored
# entry is read back from BSS and compared with the snapshot.
#
#   runbooks/rollback-boot-parameters.sh CHANGE_ID
#
# Exit 0 restored and verified, 1 the rollback failed (the report names the nodes), 2 usage.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if (($# != 1)); then usage; fi
change_id=$1
if result=$(run_workflow rollbackBootParameters "rollback-${change_id}-$(date -u +%Y%m%d%H%M%S)" "$(printf '{"changeId":"%s"}' "$change_id")"); then
  log "restored change $change_id: $(json_field "$result" .restored) of $(json_field "$result" .nodes) nodes rewritten, recreated $(json_field "$result" .recreated), deleted $(json_field "$result" .deleted)"
  echo "$result"
else
  exit $?
fi
