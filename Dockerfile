# Gazette container image.
#
#   docker build -t gazette .
#   docker run -p 3000:3000 -v gazette-data:/data gazette
#
# Two stages: "build" compiles TypeScript and the native SQLite driver with the tool chain, "runtime" holds
# only the compiled app and its production dependencies and runs as the unprivileged `node` user.

# ---------------------------------------------------------------------------------------------------------
FROM node:24-bookworm-slim AS build

# better-sqlite3 downloads a prebuilt binary when it can and compiles from source when it cannot;
# the compiler is only ever needed in this stage.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so editing the source does not reinstall them.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && find dist -name '*.map' -delete

# Keep only the compiled driver from better-sqlite3 (its SQLite sources and object files are ~25 MB), drop
# source maps shipped by dependencies, then prove the driver still loads.
RUN cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/better_sqlite3.node \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/ \
 && cd /app \
 && find node_modules -name '*.map' -type f -delete \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"

# ---------------------------------------------------------------------------------------------------------
FROM node:24-bookworm-slim AS runtime

LABEL org.opencontainers.image.title="Gazette" \
      org.opencontainers.image.description="A self-hostable newsletter server: subscribers, public pages and reliable sending over any SMTP relay." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"

ENV NODE_ENV=production \
    DATA_DIR=/data \
    PORT=3000 \
    HOST=0.0.0.0

WORKDIR /app

# The application is owned by root and read-only to the process; only /data is writable by it.
# The layout (/app/dist, /app/views, /app/package.json) is how the server finds its views at run time.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY views ./views
COPY public ./public

# SQLite database, generated secret key and anything else Gazette keeps lives here.
RUN mkdir -p /data && chown node:node /data
VOLUME /data

USER node
EXPOSE 3000

# No curl in the slim image: ask node itself. The start period covers a database that is still starting
# (Gazette retries it for DATABASE_CONNECT_TIMEOUT seconds, 30 by default).
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

CMD ["node", "dist/src/server.js"]
