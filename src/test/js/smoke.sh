#!/usr/bin/env bash
# Starts `./fathom serve` (demo model, API key) on a free port, runs smoke.mjs with the `openai` npm package
# (installed into a temporary folder), stops the server. Needs node and npm.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

npm install --prefix "$work" --no-audit --no-fund --loglevel=error openai@7 >/dev/null
cp src/test/js/smoke.mjs "$work/"
port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
key="smoke-$RANDOM"
./fathom serve --port "$port" --api-key "$key" --parallel 4 --ctx 1024 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
  if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.log" >&2; echo "smoke: the server exited" >&2; exit 1; fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { cat "$work/server.log" >&2; echo "smoke: the server never became healthy" >&2; exit 1; }
node "$work/smoke.mjs" "http://127.0.0.1:$port" "$key" || { cat "$work/server.log" >&2; exit 1; }
