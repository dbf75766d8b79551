#!/usr/bin/env bash
# scripts/bench/run.sh [options]   -- the smbtrail benchmark (issue 4); options: run.sh --help
# Needs node >= 20, tshark/editcap/capinfos, /usr/bin/time (apt-get install time) for peak RSS,
# and root only when the ~1 GB bulk captures must be generated (scripts/lab/bulk.sh).
set -euo pipefail
exec node "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/run.mjs" "$@"
