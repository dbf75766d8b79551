#!/usr/bin/env bash
# scripts/lab/bulk.sh OUTDIR [plain|mixed|both]   -- benchmark captures, generated on demand, never committed
#
#   OUTDIR/smb3-bulk.pcap        ~1 GB: SMB 3.1.1, no encryption, no signing; 3 sessions of LAB\alice,
#                                each putting and getting back large files on \\FS01\docs
#   OUTDIR/smb3-bulk-mixed.pcap  the same SMB sessions while unrelated TCP runs beside them
#                                (HTTP downloads with curl from a python3 http.server, port 8080)
# SIZE_MB=N scales the SMB payload (default 960: 3 sessions x (put + get) x 160 MB).
# HTTP_RATE (curl --limit-rate, default 40M bytes/s) keeps tcpdump from dropping in the mixed run.
# Same lab as run.sh (needs root; two network namespaces in 198.18.10.0/24; private smbd);
# do not run it at the same time as run.sh (they share the scratch dir and namespace names).
set -euo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$LAB_DIR/lib.sh"

OUTDIR=${1:?usage: bulk.sh OUTDIR [plain|mixed|both]}
WHAT=${2:-both}
SIZE_MB=${SIZE_MB:-960}
SESSIONS=3
FILE_MB=$(( SIZE_MB / SESSIONS / 2 ))
[ "$FILE_MB" -ge 1 ] || die "SIZE_MB too small"

need_root; check_tools
mkdir -p "$OUTDIR"; OUTDIR=$(cd "$OUTDIR" && pwd)
trap lab_cleanup EXIT
trap 'exit 130' INT TERM
net_up
write_identity
reset_shares
cli_conf
# pace both veth ends: at full speed the veth backlog overflows and TCP retransmits (real, but
# noise in a benchmark); a token bucket (tbf) on both ends keeps the capture free of losses. BULK_RATE=0 turns it off.
if [ "${BULK_RATE:-1600mbit}" != 0 ]; then
  ip netns exec "$NS_SRV" tc qdisc replace dev "$IF_SRV" root tbf rate "${BULK_RATE:-1600mbit}" burst 256kb latency 50ms
  ip netns exec "$NS_CLI" tc qdisc replace dev "$IF_CLI" root tbf rate "${BULK_RATE:-1600mbit}" burst 256kb latency 50ms
fi
srv_start "   server signing = disabled
   server smb encrypt = off"

D="$LAB_WORK/client/data"
mkdir -p "$D" "$LAB_WORK/www"
log "making ${SESSIONS} x ${FILE_MB} MB test files"
for i in $(seq 1 $SESSIONS); do head -c "${FILE_MB}M" /dev/urandom >"$D/dataset-$i.bin"; done
chmod -R a+rX "$D"

smb_sessions() {
  local i
  for i in $(seq 1 $SESSIONS); do
    smbc "//$SRV_NAME/docs" -m SMB3_11 --client-protection=off \
      -c "lcd $D; mkdir bench$i; cd bench$i; put dataset-$i.bin; ls; get dataset-$i.bin $D/back-$i.bin; del dataset-$i.bin; cd ..; rmdir bench$i" \
      >/dev/null
    rm -f "$D/back-$i.bin"
  done
}

http_up() {
  head -c 64M /dev/urandom >"$LAB_WORK/www/archive.tar"
  chmod -R a+rX "$LAB_WORK/www"
  ip netns exec "$NS_SRV" "$PY" -m http.server 8080 --bind "$SRV_IP" --directory "$LAB_WORK/www" >/dev/null 2>&1 &
  echo $! >"$LAB_WORK/run/http.pid"
  local i; for i in $(seq 1 50); do ip netns exec "$NS_SRV" ss -Hltn "sport = :8080" | grep -q . && return 0; sleep 0.1; done
  die "http.server did not start"
}

# background HTTP load: downloads, one after another, until told to stop
http_load() {
  ( while [ ! -e "$LAB_WORK/run/http.stop" ]; do
      ip netns exec "$NS_CLI" curl -s -o /dev/null --noproxy '*' --limit-rate "${HTTP_RATE:-40M}" \
        "http://$SRV_IP:8080/archive.tar" || true
      sleep 0.2
    done ) &
  echo $! >"$LAB_WORK/run/httpload.pid"
}

one() { # one NAME mixed?
  local name=$1 mixed=$2 f="$OUTDIR/$1.pcap" t0=$SECONDS
  log "capturing $f"
  rm -f "$f"
  ip netns exec "$NS_SRV" tcpdump -i "$IF_SRV" -s 0 -n -B 262144 -Z root --immediate-mode -w "$f" ip \
    >"$LAB_WORK/run/tcpdump.err" 2>&1 &
  echo $! >"$LAB_WORK/run/tcpdump.pid"
  local i; for i in $(seq 1 100); do grep -q "listening on" "$LAB_WORK/run/tcpdump.err" && break; sleep 0.05; done
  sleep 0.2
  if [ "$mixed" = 1 ]; then rm -f "$LAB_WORK/run/http.stop"; http_load; sleep 1; fi
  smb_sessions
  if [ "$mixed" = 1 ]; then
    touch "$LAB_WORK/run/http.stop"
    local p; p=$(cat "$LAB_WORK/run/httpload.pid"); wait "$p" 2>/dev/null || true; rm -f "$LAB_WORK/run/httpload.pid"
  fi
  cap_stop
  log "  $(grep -E 'captured|dropped' "$LAB_WORK/run/tcpdump.err" | tr '\n' ' ')"
  grep -q '^0 packets dropped by kernel' "$LAB_WORK/run/tcpdump.err" \
    || log "  WARNING: tcpdump dropped packets: the capture has gaps (lower HTTP_RATE or use a faster disk)"
  log "  $(stat -c %s "$f") bytes, $(capinfos -c -M "$f" | sed -n 's/^Number of packets: *//p') packets, $((SECONDS - t0)) s"
}

case "$WHAT" in
  plain) one smb3-bulk 0 ;;
  mixed) http_up; one smb3-bulk-mixed 1 ;;
  both) one smb3-bulk 0; http_up; one smb3-bulk-mixed 1 ;;
  *) die "unknown variant $WHAT (plain|mixed|both)" ;;
esac
srv_stop
