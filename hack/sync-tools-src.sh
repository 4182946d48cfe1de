#!/usr/bin/env bash
# Copies the pinned tools modules (devcluster/tools/*) into internal/devcluster/toolsrc so the
# sluice binary embeds them and can build the local cluster from any directory.
# `make verify` fails when the copies are stale.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dst="$root/internal/devcluster/toolsrc"
mkdir -p "$dst"
for m in k8s kwok; do
  for f in go.mod go.sum tools.go; do
    cp "$root/devcluster/tools/$m/$f" "$dst/$m.$f.txt"
  done
done
