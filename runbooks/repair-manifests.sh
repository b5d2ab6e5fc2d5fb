#!/usr/bin/env bash
# Seed 000 (SBPS marshal crashes on a rootfs manifest without etag), steps 1-2, for every IMS image.
#
#   runbooks/repair-manifests.sh [--dry-run] [IMAGE_ID ...]
#
# Exit 0 when every manifest is healthy (or was repaired), 1 when some need repair (dry run) or
# cannot be repaired (the report says why, per image), 2 usage. After a repair, restart the SBPS
# marshal on the iSCSI servers (step 3): systemctl restart sbps-marshal.service
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dry_run=false
ids=()
for arg in "$@"; do
  case $arg in
    --dry-run) dry_run=true ;;
    -*) usage ;;
    *) ids+=("\"$arg\"") ;;
  esac
done
input="{\"dryRun\":$dry_run"
((${#ids[@]})) && input+=",\"imageIds\":[$(IFS=,; echo "${ids[*]}")]"
input+='}'

result=$(run_workflow repairManifests "repair-manifests-$(date -u +%Y%m%d%H%M%S)" "$input") || exit $?
echo "$result"
python3 -c '
import json, sys
counts = json.loads(sys.argv[1])["counts"]
print("runbook: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
sys.exit(1 if counts["unfixable"] or counts["failed"] or counts["needs-repair"] else 0)
' "$result"
