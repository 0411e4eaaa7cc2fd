# syntax=docker/dockerfile:1
#
# Incident ChatOps bot: a two-stage image.
#   build:   compiles TypeScript and better-sqlite3's native addon, then drops dev dependencies
#   runtime: Node.js, the compiled bot, production node_modules, the shipped manifests and the
#            command-line tools the typed runbook actions drive; runs as uid 10001, never root
#
#   docker build -t chatops-bot .
#   docker run -p 3000:3000 -v chatops-data:/data --env-file bot.env chatops-bot
#
# The same image runs a runner on a target host (README, "Deploying a runner"), with runner.env
# setting BOT_URL, RUNNER_NAME, RUNNER_TOKEN, RUNBOOKS_DIR=/runbooks and RUNNER_STATE_DIR=/data;
# it serves no HTTP, so the bot's health check does not apply:
#   docker run --no-healthcheck --env-file runner.env -v /etc/chatops-runner/runbooks:/runbooks:ro \
#     -v chatops-runner-state:/data chatops-bot runner
#
# Both stages use the same base image, so the addon compiled in the first stage matches the
# Node.js ABI and glibc of the second.

# ---------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS build

# better-sqlite3 downloads a prebuilt binary when it can and compiles from source when it cannot
# (no network, an unusual architecture): python3, make and g++ are what node-gyp needs for that.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# node-gyp compiles against the headers this Node.js ships with instead of downloading them.
ENV npm_config_nodedir=/usr/local

WORKDIR /app

# Dependencies first: this layer is reused until package.json or the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# tsconfig.build.json: rootDir "." and outDir "dist", so src/main.ts becomes dist/src/main.js.
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev \
 && test -f dist/src/main.js \
 && test -f dist/src/runner.js

# ---------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime

# The programs the typed actions run (checkpoint, backup, restore, verify kind: sql):
#   sqlite3 (SQLite shell), postgresql-client (psql, pg_dump, pg_restore),
#   mariadb-client (mariadb, mariadb-dump; MySQL too), redis-tools (redis-cli), tar (directories);
#   ca-certificates for HTTPS to Slack, Discord and the services steps check;
#   tini as PID 1: forwards SIGTERM to the bot and reaps processes orphaned by steps.
# systemctl, docker compose and kubectl are not included: restart steps of those kinds need an
# image built FROM this one that adds them (and the access they imply).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      sqlite3 \
      postgresql-client \
      mariadb-client \
      redis-tools \
      tar \
      tini \
 && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid/gid (Kubernetes runAsUser/fsGroup and host volumes refer to 10001).
RUN groupadd --system --gid 10001 chatops \
 && useradd --system --uid 10001 --gid chatops --home-dir /app --no-create-home --shell /usr/sbin/nologin chatops \
 && mkdir -p /data \
 && chown chatops:chatops /data \
 && chmod 0750 /data

WORKDIR /app

# The application is owned by root and read-only to the bot; only /data is writable.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY manifests ./manifests

# `runner` as the command (docker run IMAGE runner, Kubernetes args: [runner]) starts the runner
# agent instead of the bot, under the same init.
RUN printf '#!/bin/sh\nexec node /app/dist/src/runner.js "$@"\n' > /usr/local/bin/runner \
 && chmod 0755 /usr/local/bin/runner

# The store: incidents, approvals, the outbox and the audit chain. Mount a volume here.
VOLUME ["/data"]

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_URL=sqlite:/data/bot.db \
    RUNBOOKS_DIR=/app/manifests/runbooks

EXPOSE 3000

USER 10001

# Liveness through Node's own fetch: the slim image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The bot handles SIGTERM itself: running steps get SHUTDOWN_TIMEOUT_MS to finish; give the
# container at least that much longer to stop (docker stop -t, terminationGracePeriodSeconds).
# The audit tools ship compiled too:  node dist/src/cli/audit-verify.js
#                                     node dist/src/cli/audit-export.js --out /data/audit.jsonl
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/main.js"]
