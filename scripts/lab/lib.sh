# lib.sh -- shared functions of the smbtrail SMB lab (sourced by run.sh and bulk.sh).
#
# Topology: two network namespaces joined by one veth pair, nothing else, no default route:
#   $NS_CLI  [$IF_CLI 198.18.10.21/24]  <--veth, MTU 1500, offloads off-->  [$IF_SRV 198.18.10.10/24]  $NS_SRV
# Every process of the lab runs inside one of these namespaces, so no packet can reach any
# address outside 198.18.10.0/24. Samba runs under a private mount + PID namespace (nsroot.sh)
# with all of its state in $LAB_WORK; stopping it = SIGTERM to its PID 1, which takes
# samba-dcerpcd and the rpcd_* helpers with it.

LAB_DIR=${LAB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
export LAB_WORK=${LAB_WORK:-/tmp/smbtrail-lab}
NS_SRV=smbtrail-srv
NS_CLI=smbtrail-cli
IF_SRV=stlab-srv0
IF_CLI=stlab-cli0
SRV_IP=198.18.10.10
CLI_IP=198.18.10.21
NET_PREFIX=24
SRV_NAME=FS01
CLI_NAME=WKS01
LAB_DOMAIN=LAB
LAB_USER=alice
LAB_PASS='Summer2024!lab'
LAB_UID=61001
LAB_GID=61001       # group "alice"
LAB_ADMGID=61002    # group "labadmins", mapped to BUILTIN\Administrators
PY=/usr/bin/python3 # Debian's python3 has impacket; a pyenv shim on PATH may not
IMPK=/usr/share/doc/python3-impacket/examples

log() { printf '[lab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "the lab needs root (network namespaces, mounts)"; }

check_tools() {
  local t missing=()
  for t in ip ethtool tcpdump tshark editcap capinfos smbd smbclient smbpasswd net unshare timeout ss; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  [ -x "$PY" ] && "$PY" -c 'import impacket' 2>/dev/null || missing+=("python3-impacket (for $PY)")
  [ ${#missing[@]} = 0 ] || die "missing: ${missing[*]} (apt-get install samba smbclient python3-impacket tcpdump tshark ethtool iproute2)"
}

# ---------------------------------------------------------------- cleanup
kill_pidfile() { # kill the process whose PID is in $1 (only if it still runs), wait a little
  local f=$1 pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  rm -f "$f"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

lab_cleanup() {
  local ns pid f
  srv_stop 2>/dev/null || true
  for f in "$LAB_WORK"/run/*.pid; do [ -e "$f" ] && kill_pidfile "$f"; done
  # anything still running inside our own namespaces is ours: end it by PID
  for ns in "$NS_CLI" "$NS_SRV"; do
    if ip netns list 2>/dev/null | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
      sleep 0.3
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  ip link del "$IF_SRV" 2>/dev/null || true   # only exists if a namespace move failed
  rm -rf "$LAB_WORK"
}

# ---------------------------------------------------------------- network
net_up() {
  lab_cleanup
  mkdir -p "$LAB_WORK/run"
  ip netns add "$NS_SRV"
  ip netns add "$NS_CLI"
  ip link add "$IF_SRV" mtu 1500 type veth peer name "$IF_CLI" mtu 1500
  ip link set "$IF_SRV" netns "$NS_SRV"
  ip link set "$IF_CLI" netns "$NS_CLI"
  local ns dev ip
  for ns in "$NS_SRV:$IF_SRV:$SRV_IP" "$NS_CLI:$IF_CLI:$CLI_IP"; do
    IFS=: read -r n dev ip <<<"$ns"
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$n" link set lo up
    ip -n "$n" addr add "$ip/$NET_PREFIX" dev "$dev"
    # no super-frames, no unfinished checksums in the capture
    ip netns exec "$n" ethtool -K "$dev" tso off gso off gro off sg off tx off rx off >/dev/null 2>&1 \
      || ip netns exec "$n" ethtool -K "$dev" tso off gso off gro off sg off tx off >/dev/null
    ip -n "$n" link set "$dev" up
  done
  # static neighbours: no ARP chatter in the captures
  local smac cmac
  smac=$(ip -n "$NS_SRV" -o link show "$IF_SRV" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  cmac=$(ip -n "$NS_CLI" -o link show "$IF_CLI" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  ip -n "$NS_CLI" neigh replace "$SRV_IP" lladdr "$smac" dev "$IF_CLI" nud permanent
  ip -n "$NS_SRV" neigh replace "$CLI_IP" lladdr "$cmac" dev "$IF_SRV" nud permanent
  ip -n "$NS_CLI" link show "$IF_CLI" | grep -q 'state UP' || sleep 0.5
}

# ---------------------------------------------------------------- private identity files
write_identity() {
  mkdir -p "$LAB_WORK/etc"
  # a private passwd/group (bind-mounted inside the namespaces only): alice exists nowhere else
  { grep -E '^(root|daemon|nobody):' /etc/passwd
    echo "$LAB_USER:x:$LAB_UID:$LAB_GID:Alice Lab:$LAB_WORK/server/home:/usr/sbin/nologin"
  } >"$LAB_WORK/etc/passwd"
  { grep -E '^(root|daemon|nogroup|users):' /etc/group
    echo "$LAB_USER:x:$LAB_GID:"
    echo "labadmins:x:$LAB_ADMGID:$LAB_USER"
  } >"$LAB_WORK/etc/group"
  printf '127.0.0.1 localhost\n%s %s %s\n%s %s %s\n' \
    "$SRV_IP" "$SRV_NAME" "${SRV_NAME,,}.lab.example" "$CLI_IP" "$CLI_NAME" "${CLI_NAME,,}.lab.example" \
    >"$LAB_WORK/etc/hosts"
  chmod 644 "$LAB_WORK/etc/passwd" "$LAB_WORK/etc/group" "$LAB_WORK/etc/hosts"
}

# ---------------------------------------------------------------- samba server
# srv_conf EXTRA_GLOBAL_LINES  -> writes $LAB_WORK/server/etc/samba/smb.conf
srv_conf() {
  local R="$LAB_WORK/server" S="$LAB_WORK/shares"
  mkdir -p "$R/etc/samba" "$R/var/lib/samba/private" "$R/var/cache/samba" "$R/var/log/samba" "$R/run/samba"
  cat >"$R/etc/samba/smb.conf" <<EOF
[global]
   workgroup = $LAB_DOMAIN
   netbios name = $SRV_NAME
   server string = Lab file server
   server role = standalone server
   security = user
   map to guest = never
   passdb backend = tdbsam:$R/var/lib/samba/private/passdb.tdb
   private dir = $R/var/lib/samba/private
   state directory = $R/var/lib/samba
   lock directory = $R/run/samba
   pid directory = $R/run/samba
   cache directory = $R/var/cache/samba
   ncalrpc dir = $R/run/samba/ncalrpc
   binddns dir = $R/var/lib/samba/bind-dns
   log file = $R/var/log/samba/log.%m
   log level = 1
   max log size = 0
   logging = file
   interfaces = $SRV_IP/$NET_PREFIX
   bind interfaces only = yes
   smb ports = 445
   disable netbios = yes
   load printers = no
   printing = bsd
   printcap name = /dev/null
   disable spoolss = yes
   obey pam restrictions = no
   unix password sync = no
   server smb encrypt = off
   server min protocol = SMB2_02
   server max protocol = SMB3_11
   store dos attributes = no
   ea support = no
   mangled names = no
   unix charset = UTF-8
$1

[ADMIN\$]
   comment = Remote Admin
   path = $S/C/Windows
   read only = no
   valid users = $LAB_USER
[C\$]
   comment = Default share
   path = $S/C
   read only = no
   valid users = $LAB_USER
[docs]
   comment = Department documents
   path = $S/docs
   read only = no
   valid users = $LAB_USER
EOF
}

# reset_shares: fresh share contents for every scenario (reproducible listings)
reset_shares() {
  local S="$LAB_WORK/shares"
  rm -rf "$S"
  mkdir -p "$S/ipc" "$S/docs" "$S/C/Windows/Temp" "$S/C/Windows/System32" "$S/C/Users/Public"
  mkdir -p "$S/docs/Finance/2024" "$S/docs/HR/Policies" "$S/docs/Projects/Apollo"
  printf 'Quarterly budget draft\n' >"$S/docs/Finance/2024/Q3 budget.xlsx"
  printf 'Q2 close\n' >"$S/docs/Finance/2024/Q2 close.xlsx"
  printf 'Travel policy v3\n' >"$S/docs/HR/Policies/travel-policy.pdf"
  printf 'Holiday calendar\n' >"$S/docs/HR/Policies/holidays-2024.docx"
  printf 'Apollo kick-off notes\n' >"$S/docs/Projects/Apollo/kickoff-notes.docx"
  printf 'readme\n' >"$S/docs/README.txt"
  printf 'windows\n' >"$S/C/Windows/win.ini"
  find "$S" -mindepth 1 -exec touch -d '2024-03-01 09:00:00' {} +
  chown -R "$LAB_UID:$LAB_GID" "$S/docs" "$S/C"
  chmod -R u+rwX,g+rwX,o+rX "$S"
}

# srv_start EXTRA_GLOBAL_LINES
srv_start() {
  rm -rf "$LAB_WORK/server"   # fresh passdb, group map, tdbs and logs for every scenario
  srv_conf "$1"
  local R="$LAB_WORK/server" conf="$LAB_WORK/server/etc/samba/smb.conf"
  # PID 1 of the namespace: set up the private passdb and group mapping, then become smbd.
  cat >"$R/init.sh" <<EOF
#!/bin/sh
set -e
printf '%s\n%s\n' '$LAB_PASS' '$LAB_PASS' | smbpasswd -c /etc/samba/smb.conf -s -a $LAB_USER >/dev/null
net -s /etc/samba/smb.conf groupmap add sid=S-1-5-32-544 unixgroup=labadmins type=builtin >/dev/null
exec smbd --foreground -s /etc/samba/smb.conf </dev/null
EOF
  chmod +x "$R/init.sh"
  ip netns exec "$NS_SRV" unshare --mount --pid --fork --kill-child=SIGTERM --mount-proc \
    "$LAB_DIR/nsroot.sh" server "$R/init.sh" >"$R/smbd.out" 2>&1 &
  echo $! >"$LAB_WORK/run/smbd.pid"
  local i
  for i in $(seq 1 100); do
    ip netns exec "$NS_SRV" ss -Hltn "sport = :445" 2>/dev/null | grep -q . && return 0
    kill -0 "$(cat "$LAB_WORK/run/smbd.pid")" 2>/dev/null || { cat "$R/smbd.out" >&2; tail -20 "$R/var/log/samba/log.smbd" >&2 2>/dev/null; die "smbd exited"; }
    sleep 0.1
  done
  cat "$R/smbd.out" >&2; die "smbd did not listen on 445"
}

# unshare --fork ignores SIGTERM itself: signal its child (smbd, PID 1 of the namespace);
# when smbd exits the kernel ends every other process of that PID namespace.
srv_stop() {
  local f="$LAB_WORK/run/smbd.pid" pid child i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  child=$(pgrep -P "$pid" 2>/dev/null | head -1 || true)
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill_pidfile "$f"
}

# ---------------------------------------------------------------- samba AD domain controller
# A throwaway Samba AD DC (realm LAB.TEST, NetBIOS domain LAB, host DC01) at $SRV_IP, for the
# scenarios that need one. Same namespaces, mounts and pidfile as smbd above (srv_stop and
# lab_cleanup stop it); its provision lives in $DC_DIR (--targetdir), removed by dc_stop.
DC_NAME=DC01
DC_REALM=LAB.TEST
DC_ADMIN=Administrator
DC_PASS='Autumn2024!dcAdmin'
DC_DIR="$LAB_WORK/server/dc"
# fixed identifiers: the same domain SID and GUIDs in every run (objectGUIDs of users stay random)
DC_SID=S-1-5-21-1001001001-2002002002-3003003003
DC_DOMAIN_GUID=5ab1ab1a-0000-4000-8000-000000000001
DC_NTDS_GUID=5ab1ab1a-0000-4000-8000-000000000002
DC_INVOCATION=5ab1ab1a-0000-4000-8000-000000000003

# dc_start: provision a fresh domain (no DNS server, no NetBIOS), then run `samba` as PID 1 of a
# private PID namespace, listening only on $SRV_IP: smbd (s3fs), the RPC server (endpoint mapper
# on 135, ncacn_ip_tcp endpoints from 49152, netlogon and drsuapi among them) and winbindd, which
# the DC's smbd needs to turn SIDs into unix ids (without it every SMB session setup fails with
# NT_STATUS_INTERNAL_ERROR). No LDAP, KDC, NBT or DNS service: the scenarios use NTLM only.
dc_start() {
  local t missing=()
  for t in samba samba-tool winbindd; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} = 0 ] || die "missing: ${missing[*]} (apt-get install samba samba-ad-provision winbind)"
  rm -rf "$LAB_WORK/server"
  mkdir -p "$LAB_WORK/server/var/log/samba" "$LAB_WORK/server/run/samba"
  local R="$LAB_WORK/server" conf="$DC_DIR/etc/smb.conf"
  # provision in the server namespaces too (private /etc/samba, /var/lib/samba, ...; no network use)
  ip netns exec "$NS_SRV" unshare --mount --fork "$LAB_DIR/nsroot.sh" server \
    samba-tool domain provision --targetdir="$DC_DIR" --realm="$DC_REALM" --domain="$LAB_DOMAIN" \
      --server-role=dc --dns-backend=NONE --host-name="$DC_NAME" --host-ip="$SRV_IP" \
      --adminpass="$DC_PASS" --krbtgtpass='Krbtgt2024!lab-fixed' --machinepass='Dc01Machine2024!lab-fixed' \
      --domain-sid="$DC_SID" --domain-guid="$DC_DOMAIN_GUID" --ntds-guid="$DC_NTDS_GUID" \
      --invocationid="$DC_INVOCATION" --function-level=2008_R2 \
      --option="interfaces = $SRV_IP/$NET_PREFIX" --option="bind interfaces only = yes" \
      >"$R/provision.log" 2>&1 || { tail -20 "$R/provision.log" >&2; die "samba-tool domain provision failed"; }
  [ -f "$conf" ] || die "provision wrote no $conf"
  # provision writes its own 'server services' (everything but dns): keep what the lab needs
  sed -i '/^[[:space:]]*server services[[:space:]]*=/d' "$conf"
  sed -i "/^\[global\]/a\\
\tserver services = s3fs, rpc, winbindd\\
\tsmb ports = 445\\
\tdisable netbios = yes\\
\tserver min protocol = SMB2_02\\
\tserver smb encrypt = off\\
\tlog level = 1\\
\tmax log size = 0" "$conf"
  ip netns exec "$NS_SRV" unshare --mount --pid --fork --kill-child=SIGTERM --mount-proc \
    "$LAB_DIR/nsroot.sh" server samba --foreground --no-process-group -s "$conf" </dev/null >"$R/samba.out" 2>&1 &
  echo $! >"$LAB_WORK/run/smbd.pid"
  local i ok
  for i in $(seq 1 200); do
    ok=$(ip netns exec "$NS_SRV" ss -Hltn "( sport = :445 or sport = :135 )" 2>/dev/null | wc -l)
    [ "$ok" -ge 2 ] && [ -S "$R/run/samba/winbindd/pipe" ] && { sleep 0.5; return 0; }
    kill -0 "$(cat "$LAB_WORK/run/smbd.pid")" 2>/dev/null || { cat "$R/samba.out" >&2; tail -20 "$R/var/log/samba/log.samba" >&2 2>/dev/null; die "samba exited"; }
    sleep 0.1
  done
  cat "$R/samba.out" >&2; tail -20 "$R/var/log/samba/log.samba" >&2 2>/dev/null
  die "samba (AD DC) did not listen on 445 and 135, or winbindd did not start"
}
dc_stop() { srv_stop; rm -rf "$DC_DIR"; }

# ---------------------------------------------------------------- clients
cli_conf() {
  local R="$LAB_WORK/client"
  mkdir -p "$R/etc/samba" "$R/var/lib/samba/private" "$R/var/cache/samba" "$R/var/log/samba" "$R/run/samba" "$R/data"
  cat >"$R/etc/samba/smb.conf" <<EOF
[global]
   workgroup = $LAB_DOMAIN
   netbios name = $CLI_NAME
   private dir = $R/var/lib/samba/private
   state directory = $R/var/lib/samba
   lock directory = $R/run/samba
   cache directory = $R/var/cache/samba
   log file = $R/var/log/samba/log.%m
   disable netbios = yes
   name resolve order = host
   client min protocol = NT1
   client max protocol = SMB3_11
   unix charset = UTF-8
EOF
}

# cli [TIMEOUT] -- CMD...: run CMD in the client namespace (private mounts, private PID namespace)
cli() {
  local t=120
  if [ "$1" != -- ]; then t=$1; shift; fi
  shift
  timeout -k 5 "$t" ip netns exec "$NS_CLI" unshare --mount --pid --fork --kill-child=SIGKILL --mount-proc \
    "$LAB_DIR/nsroot.sh" client "$@"
}

# smbc ARGS...: smbclient as LAB\alice against \\FS01 (address given, no name resolution)
smbc() { cli 120 -- smbclient -s /etc/samba/smb.conf -I "$SRV_IP" -U "$LAB_DOMAIN/$LAB_USER%$LAB_PASS" "$@"; }

# impk SCRIPT ARGS...: an impacket example script as LAB/alice@FS01
impk() {
  local s=$1; shift
  cli "${IMPK_TIMEOUT:-60}" -- "$PY" "$IMPK/$s" "$@"
}
IMPK_TARGET="$LAB_DOMAIN/$LAB_USER:$LAB_PASS@$SRV_NAME"

# ---------------------------------------------------------------- capture
# cap_start FILE [FILTER]
cap_start() {
  local f=$1 filter=${2:-ip}
  rm -f "$f"
  ip netns exec "$NS_SRV" tcpdump -i "$IF_SRV" -s 0 -n -U --immediate-mode -w "$f" $filter >"$LAB_WORK/run/tcpdump.err" 2>&1 &
  echo $! >"$LAB_WORK/run/tcpdump.pid"
  local i
  for i in $(seq 1 100); do
    grep -q "listening on" "$LAB_WORK/run/tcpdump.err" 2>/dev/null && { sleep 0.2; return 0; }
    sleep 0.05
  done
  die "tcpdump did not start: $(cat "$LAB_WORK/run/tcpdump.err")"
}
cap_stop() {
  sleep 0.5
  local pid; pid=$(cat "$LAB_WORK/run/tcpdump.pid")
  kill -INT "$pid" 2>/dev/null || true
  local i; for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill_pidfile "$LAB_WORK/run/tcpdump.pid"
}
