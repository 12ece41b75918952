# Gazette container image.
#
#   docker build -t gazette .
#   docker run -p 3000:3000 -v gazette-data:/data gazette
#
# Three stages: "build" compiles TypeScript, "deps" installs the production dependencies from the lockfile
# alone, and "runtime" holds only the compiled app and those dependencies and runs as the unprivileged
# `node` user. No compiler is needed.

# ---------------------------------------------------------------------------------------------------------
FROM node:24-bookworm-slim AS build

WORKDIR /app

# Dependencies first, so editing the source does not reinstall them. No install scripts run: the only native
# modules, better-sqlite3 and @node-rs/argon2, ship prebuilt binaries inside their npm packages.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --ignore-scripts

COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs ./scripts/
COPY src ./src
COPY migrations ./migrations
RUN npm run build && find dist -name '*.map' -delete

# The production dependencies, installed afresh from the lockfile alone: exactly its versions, nothing swapped
# in. `npm ls` fails if the tree differs from the lockfile. Then files the server never reads go (other
# platforms' binaries, sources, type declarations, docs), and the SQLite driver and sharp (libvips, for image
# uploads) must load.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm ls --omit=dev --all >/dev/null \
 && cd node_modules/better-sqlite3 \
 && rm -rf deps src \
 && find prebuilds -type f ! -name 'linux-x64.node' ! -name 'linux-arm64.node' -delete \
 && cd /app \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' -o -name '*.markdown' \) ! -iname 'licen*' -delete \
 && node -e "const D=require('better-sqlite3'); new D(':memory:').prepare('select 1').get(); console.log('node', process.version, 'better-sqlite3', require('better-sqlite3/package.json').version)" \
 && node -e "const s=require('sharp'); s({ create: { width: 2, height: 2, channels: 3, background: '#000' } }).png().toBuffer().then((b) => console.log('sharp with libvips', s.versions.vips, 'encodes a PNG of', b.length, 'bytes'))"

# ---------------------------------------------------------------------------------------------------------
# The runtime needs only the node binary, not npm, corepack or the C headers of the node image: it starts
# from plain Debian slim (the same Debian the node image is built on) and copies node in. That keeps the
# image about 100 MB smaller. libstdc++, which node and the SQLite driver link against, is in bookworm-slim.
FROM debian:bookworm-slim AS runtime

LABEL org.opencontainers.image.title="Gazette" \
      org.opencontainers.image.description="A self-hostable newsletter server: subscribers, public pages and reliable sending over any SMTP relay." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

COPY --from=build /usr/local/bin/node /usr/local/bin/node
# The same unprivileged user (uid 1000) as in the node image.
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/sh --create-home node \
 && node --version

# Node 22+ caches compiled modules here, which shortens every start after the first. Two malloc arenas
# instead of glibc's eight per core: the threads' arenas otherwise each keep freed memory (15 MB at the
# peak of a 100,000-row import; the start script in package.json sets the same, bench/RESULTS.md).
ENV NODE_COMPILE_CACHE=/tmp/gazette-compile-cache \
    MALLOC_ARENA_MAX=2 \
    NODE_ENV=production \
    DATA_DIR=/data \
    PORT=3000 \
    HOST=0.0.0.0

WORKDIR /app

# The application is owned by root and read-only to the process; only /data is writable by it.
# The layout (/app/dist, /app/views, /app/package.json) is how the server finds its views at run time.
COPY --from=deps /app/node_modules ./node_modules
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

# The same Node options as `npm start` (test/start-command.test.ts): a small young generation and an old one
# that grows by 10% at a time keep a big send's memory flat; V8's defaults let both fill with garbage first.
CMD ["node", "--max-semi-space-size=2", "--heap-growing-percent=10", "--memory-saver-mode", "--no-maglev", "dist/server.js"]
