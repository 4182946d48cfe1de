#!/usr/bin/env bash
# Installs the servers the metric-provider tests run against: a real Prometheus (Debian's
# package). Idempotent: does nothing when `prometheus` is already on PATH. Runs without prompts
# (CI runs it as root); uses sudo when not root.
#
# Note: Debian's package would start a system Prometheus on :9090. The tests start their own on
# a free port, so a policy-rc.d that refuses service starts is in place during the install,
# and the service is then stopped and disabled in case it started anyway.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1; then
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-test-servers: need root or sudo to apt-get install prometheus" >&2
    exit 1
  fi
  SUDO=(sudo -n)
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-servers: no apt-get; install Prometheus (2.x) so that \`prometheus\` is on PATH" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 0755 "$policy"
  own_policy=true
fi
cleanup() { if $own_policy; then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
echo "install-test-servers: installing prometheus (apt-get)"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null

# Never leave a system Prometheus holding :9090.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  "${SUDO[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/prometheus ]; then
  "${SUDO[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  "${SUDO[@]}" update-rc.d prometheus disable >/dev/null 2>&1 || true
fi

prometheus --version 2>&1 | head -1
