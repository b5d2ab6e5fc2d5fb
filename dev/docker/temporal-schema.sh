#!/bin/sh
# Both databases of docker-compose.yml's Temporal, created once and brought to this server's schema
# version, as dev/cluster.ts does for the cluster profile (temporal-sql-tool, the module's schema).
set -e
sql() { temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u temporal --pw "$POSTGRES_PASSWORD" --db "$@"; }
for pair in temporal:temporal temporal_visibility:visibility; do
  database=${pair%%:*} schema=/etc/temporal/schema/${pair#*:}/versioned
  if ! sql "$database" update-schema -d "$schema"; then
    sql "$database" create-database
    sql "$database" setup-schema -v 0.0
    sql "$database" update-schema -d "$schema"
  fi
done
