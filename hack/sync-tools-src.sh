#!/usr/bin/env bash
# Copies the pinned tools module (devcluster/tools/k8s) into internal/devcluster/toolsrc so the
# sluice binary embeds them and can build the local cluster from any directory.
# `make verify` fails when the copies are stale.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dst="$root/internal/devcluster/toolsrc"
mkdir -p "$dst"
# The file list matches toolFiles in internal/devcluster/binaries.go; a path's / becomes . here.
# (kwok is built in the k8s module; devcluster/tools/kwok is no longer embedded.)
copy() { cp "$root/devcluster/tools/$1/$2" "$dst/$1.${2//\//.}.txt"; }
for f in go.mod go.sum tools.go controlplane/main.go; do copy k8s "$f"; done
