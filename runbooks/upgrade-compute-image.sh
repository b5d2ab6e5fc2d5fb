#!/usr/bin/env bash
# Upgrade compute nodes to a new boot image (CSM "Upgrade compute node images", automated): import,
# customize, encrypt, export and roll the boot parameters out as one imageLifecycle workflow.
#
#   runbooks/upgrade-compute-image.sh SPEC.yaml [WORKFLOW_ID]
#
# SPEC is an imageLifecycle spec (README "Spec files"); it is validated first and nothing starts
# when it has problems. While the rollout waits for an operator, this prints the approve command.
# Exit 0 upgraded, 1 the workflow failed (BSS was rolled back), 2 usage or an invalid spec, 3 Temporal
# could not be reached.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if (($# < 1)); then usage; fi
spec=$1
imagectl validate "$spec" >&2 || exit 2
validated=$(imagectl validate "$spec" --json)
[[ $(json_field "$validated" .workflow) == imageLifecycle ]] || { log "$spec is not an imageLifecycle spec"; exit 2; }
input=$(json_field "$validated" .input)
id=${2:-upgrade-$(json_field "$input" .name | tr -c 'A-Za-z0-9_\n-' '-')-$(date -u +%Y%m%d%H%M%S)}

announce_approval() {
  # Polls the rollout phase; says once, on stderr, how to approve when it waits for an operator.
  local said=false
  while sleep "${RUNBOOK_POLL_SECONDS:-10}"; do
    local step
    step=$(query_step "$id.boot-parameters") || continue
    if [[ $step == "awaiting approval" && $said == false ]]; then
      log "the canary is done; the rollout waits for you:  imagectl approve $id --reason '...'  (or --reject)"
      said=true
    fi
  done
}
announce_approval &
watcher=$!
trap 'kill $watcher 2>/dev/null || true' EXIT

if result=$(run_workflow imageLifecycle "$id" "$input"); then
  log "upgraded: image $(json_field "$result" .imageId), manifest $(json_field "$result" .manifest.path)"
  echo "$result"
else
  status=$?
  ((status == 1)) && log "the upgrade stopped; BSS entries it changed were restored from the snapshot. imagectl history $id"
  exit "$status"
fi
