#!/usr/bin/env bash
# Installs what a fresh machine lacks for the demo and the tests: etcd (Debian's etcd-server)
# and the npm dependencies; then builds. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v etcd >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: etcd is missing; install Debian's etcd-server (sudo apt-get install -y etcd-server) and run again" >&2
    exit 1
  fi
  echo "setup: installing etcd-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq etcd-server >/dev/null
fi
if [ ! -d node_modules ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund
fi
npx tsc -p tsconfig.json
