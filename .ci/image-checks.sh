#!/usr/bin/env bash
# Checks on the built image beyond ../shared/tools/oci: data in the /data volume survives a container
# restart, the container starts with no variables at all, and it exits 0 on SIGTERM.
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
