#!/bin/sh
# docker-compose.yml's admin tools: registers TEMPORAL_NAMESPACE and the search attributes given as
# NAME=Type arguments, keeping what exists (the compose file then keeps the container up for
# operators' `docker compose exec temporal-admin-tools temporal|tctl ...`).
set -e
temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1 \
  || temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention 72h
# A new namespace reaches every frontend's cache within seconds.
tries=0
until temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; do
  tries=$((tries + 1)); [ "$tries" -lt 60 ] || { echo "namespace $TEMPORAL_NAMESPACE not served after 60 s" >&2; exit 1; }
  sleep 1
done
for attribute in "$@"; do
  temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" | grep -qw "${attribute%%=*}" \
    || temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "${attribute%%=*}" --type "${attribute#*=}"
done
