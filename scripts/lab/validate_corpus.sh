#!/usr/bin/env bash
# scripts/lab/validate_corpus.sh [CORPUS_DIR] [--all]
# Checks scripts/lab/truth.py against the committed truth files of the shared corpus
# (default ../shared/corpus): for every capture, regenerate its truth and compare
# (compare_truth.py: tree_connects/creates frame+name and users; --all: also statuses, dialects,
# counts, DCE/RPC). Known, documented exceptions of that corpus:
#   smb-eicar-file-segmentation-random: its truth was recovered by hand (tshark loses sync);
#   smb-length-57xx: truth made with decode-as tcp.port==4445 (applied here too).
set -uo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CORPUS=${1:-$LAB_DIR/../../../shared/corpus}
MODE=${2:-}
PY=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok=0; bad=0
while IFS= read -r t; do
  cap=${t%.truth.json}; rel=${cap#"$CORPUS"/}
  extra=(); case "$rel" in *smb-length-57*) extra=(-d 'tcp.port==4445,nbss') ;; esac
  if "$PY" "$LAB_DIR/truth.py" "$cap" "${extra[@]}" >"$tmp/t.json" 2>"$tmp/err" \
     && "$PY" "$LAB_DIR/compare_truth.py" "$t" "$tmp/t.json" $MODE >"$tmp/diff" 2>&1; then
    ok=$((ok + 1))
  else
    bad=$((bad + 1)); echo "DIFF $rel"; head -c 600 "$tmp/diff" "$tmp/err"; echo
  fi
done < <(find "$CORPUS" -name '*.truth.json' | sort)
echo "truth.py vs corpus: $ok agree, $bad differ"
[ "$bad" = 0 ]
