#!/usr/bin/env bash
# scripts/bench/floods.sh [--workdir DIR] [--only LIST] [--scale F] [--keep]
# Hostile floods against the memory bound (issue 4): generates each capture, scans it under
# /usr/bin/time, prints a Markdown table of peak RSS. See scripts/bench/floods.ts for the floods.
# Needs a build (npm run build) and /usr/bin/time; several GB free in the workdir at scale 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(mktemp -d "${TMPDIR:-/tmp}/smbtrail-floods-build.XXXXXX")"
trap 'rm -rf "$build"' EXIT
cd "$root"
npx --no-install tsc --outDir "$build" --rootDir "$root" --module commonjs --target ES2022 --moduleResolution node \
  --types node --esModuleInterop --skipLibCheck --strict scripts/bench/floods.ts
# the test helpers compiled with it load src/ modules, whose packages are the project's
NODE_PATH="$root/node_modules" SMBTRAIL_ROOT="$root" node "$build/scripts/bench/floods.js" "$@"
