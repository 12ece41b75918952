#!/usr/bin/env bash
# Checks on the built image beyond ../shared/tools/oci: data in the /data volume survives a container
# restart, the container starts with no variables at all, it exits 0 on SIGTERM, it runs Node 24, and its
# node_modules holds exactly the lockfile's production packages.
set -euo pipefail
IMAGE=${APP_IMAGE:-localhost/app:ci}
PORT=${APP_PORT:-3000}
name=gazette-persist-$$
volume=gazette-persist-$$
base="http://127.0.0.1:$PORT"

cleanup() {
  podman rm -f -t 5 "$name" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT

wait_healthy() {
  for _ in $(seq 1 120); do
    if curl -fsS --max-time 2 "$base/healthz" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "container never became healthy" >&2
  podman logs "$name" >&2 || true
  return 1
}

# No -e at all: every setting has a working default.
podman run -d --name "$name" --pull=never -v "$volume:/data" -p "127.0.0.1:$PORT:3000" "$IMAGE" >/dev/null
wait_healthy
echo "started with no variables: $(curl -fsS "$base/healthz")"

code=$(curl -sS -o /dev/null -w '%{http_code}' --data-urlencode 'name=CI Owner' --data-urlencode 'email=ci@example.com' \
  --data-urlencode 'password=a long ci passphrase' "$base/setup")
[ "$code" = 303 ] || { echo "setup answered $code, expected 303" >&2; exit 1; }
echo "owner created through /setup"

podman stop -t 15 "$name" >/dev/null
exit_code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
[ "$exit_code" = 0 ] || { echo "exit code after SIGTERM was $exit_code, expected 0" >&2; podman logs "$name" >&2; exit 1; }
echo "clean exit on SIGTERM (code 0)"

podman start "$name" >/dev/null
wait_healthy
code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/setup")
[ "$code" = 404 ] || { echo "after a restart /setup answered $code: the owner did not survive in the volume" >&2; exit 1; }
code=$(curl -sS -o /dev/null -w '%{http_code}' --data-urlencode 'email=ci@example.com' --data-urlencode 'password=a long ci passphrase' "$base/login")
[ "$code" = 303 ] || { echo "sign-in after restart answered $code, expected 303" >&2; exit 1; }
echo "data survived a container restart (the owner can still sign in)"

# The image runs Node 24, and its node_modules holds exactly the lockfile's production packages.
node_version=$(podman run --rm --pull=never --entrypoint node "$IMAGE" --version)
case "$node_version" in v24.*) echo "image node: $node_version" ;; *) echo "image runs node $node_version, expected v24" >&2; exit 1 ;; esac
podman run --rm --pull=never --entrypoint node "$IMAGE" -e '
  const fs = require("fs"), path = require("path");
  const found = {};
  (function walk(dir) {
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (name.startsWith(".")) continue;
      const full = path.join(dir, name);
      if (name.startsWith("@")) { walk(full); continue; }
      const pkg = path.join(full, "package.json");
      if (fs.existsSync(pkg)) found[path.relative("/app", full)] = JSON.parse(fs.readFileSync(pkg, "utf8")).version;
      walk(path.join(full, "node_modules"));
    }
  })("/app/node_modules");
  process.stdout.write(JSON.stringify(found));
' > /tmp/image-modules.json
node -e '
  const lock = require(process.cwd() + "/package-lock.json").packages;
  const found = require("/tmp/image-modules.json");
  const wanted = {};
  for (const [p, v] of Object.entries(lock)) {
    if (!p || v.dev || v.link) continue;
    if (v.os && !v.os.includes("linux")) continue;
    if (v.cpu && !v.cpu.includes(process.arch)) continue;
    if (v.libc && !v.libc.includes("glibc")) continue;
    wanted[p] = v.version;
  }
  const problems = [];
  // An optional package npm may leave out (the WebAssembly fallback of sharp, and what only it needs) may be
  // missing; present, it must be the version the lockfile names.
  for (const [p, v] of Object.entries(wanted)) {
    if (found[p] === undefined && lock[p].optional) continue;
    if (found[p] !== v) problems.push(`${p}: lockfile ${v}, image ${found[p] ?? "missing"}`);
  }
  for (const [p, v] of Object.entries(found)) if (!(p in wanted)) problems.push(`${p}@${v}: in the image, not a production package of the lockfile`);
  if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
  console.log(`image node_modules equals the lockfile: ${Object.keys(wanted).length} packages`);
'
