#!/usr/bin/env bash
# Installs what a fresh machine lacks for the demo and the tests: etcd (Debian's etcd-server)
# and the npm dependencies; then builds. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# etcd for HA (tests, demo); with --tests also openssl (the TLS test's certificates) and
# Chromium (the dashboard test drives it), iproute2 and nftables (namespace test hosts and partitions),
# and util-linux's `script` (the pseudo-terminal of the `top` test; bsdutils, essential in Debian).
missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
if [ "${1:-}" = "--tests" ]; then
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/sbin/ip ] || [ -x /usr/bin/ip ] || command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  [ -x /usr/sbin/nft ] || command -v nft >/dev/null 2>&1 || missing+=(nftables)
  command -v script >/dev/null 2>&1 || missing+=(bsdutils)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${missing[*]}; install them (sudo apt-get install -y ${missing[*]}) and run again" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -d node_modules ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund
fi
npx tsc -p tsconfig.json
