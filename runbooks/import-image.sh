#!/usr/bin/env bash
# Import a boot image into IMS with an etag-safe manifest (CSM "Import an image" procedure).
#
#   runbooks/import-image.sh NAME ROOTFS [KERNEL [INITRD]]
#
# Each artifact is a local path on the orchestrator worker's host or an s3://bucket/key URL
# (already in S3: nothing is re-uploaded, md5 and etag are still taken from the data).
# Prints the IMS image id on stdout; exit 0 imported, 1 the import failed, 2 usage.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if (($# < 2)); then usage; fi
name=$1
source_json() { [[ $1 == s3://* ]] && printf '{"s3":"%s"}' "$1" || printf '{"file":"%s"}' "$(realpath -m "$1")"; }
input=$(printf '{"name":"%s","rootfs":%s' "$name" "$(source_json "$2")")
[[ -n ${3:-} ]] && input+=",\"kernel\":$(source_json "$3")"
[[ -n ${4:-} ]] && input+=",\"initrd\":$(source_json "$4")"
input+='}'

if result=$(run_workflow importImage "import-${name//[^A-Za-z0-9_-]/-}-$(date -u +%Y%m%d%H%M%S)" "$input"); then
  image_id=$(json_field "$result" .imageId)
  log "imported $name as IMS image $image_id, manifest $(json_field "$result" .manifest.path) etag $(json_field "$result" .manifest.etag)"
  echo "$image_id"
else
  exit $?
fi
