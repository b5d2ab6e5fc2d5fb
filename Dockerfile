# The project's images, one target per role (docker build --target orchestrator|agent .):
#   orchestrator  workflows and central activities; runs as the unprivileged user `node`
#   agent         an iSCSI server's agent with tgt and targetcli; root, as tgtadm and targetcli need
# Both start exactly as the systemd units do; settings come from the environment (README.md).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

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
