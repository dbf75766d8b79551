#!/usr/bin/env bash
# scripts/lab/run.sh [SCENARIO...]   regenerate captures/ (all scenarios when none is named)
# scripts/lab/run.sh cleanup         remove every trace of the lab (namespaces, daemons, temp files)
# scripts/lab/run.sh list            list the scenarios
#
# Needs root and the Debian packages samba smbclient python3-impacket tcpdump tshark ethtool iproute2
# (and samba-ad-provision winbind for 14-samba-dc-zerologon-dcsync, whose server is a Samba AD DC).
# Real SMB traffic between a private smbd and real clients (smbclient, impacket) in two network
# namespaces (198.18.10.0/24, no route anywhere else). Each scenario: fresh smbd + fresh shares,
# tcpdump -s 0 on the server-side veth, one capture in $OUT (default: <repo>/captures), then
# scripts/lab/truth.py writes <capture>.truth.json from tshark's PDML (independent of smbtrail).
# Environment: OUT=DIR (output folder), LAB_WORK=DIR (scratch, default /tmp/smbtrail-lab).
set -euo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB_DIR/../.." && pwd)
OUT=${OUT:-$REPO/captures}
# shellcheck source=lib.sh
source "$LAB_DIR/lib.sh"

SCENARIOS=(
  01-smb21-session
  02-smb311-signed
  03-smb311-encrypted
  04-smb1-nt1
  05-admin-share-exe-copy
  06-impacket-psexec
  07-psexec-footprint
  08-smbexec-services
  09-discovery
  10-many-small-files
  11-benign-baseline
  12-remote-admin-rpc
  13-psexec-clones
  14-samba-dc-zerologon-dcsync
)

D="$LAB_WORK/client/data"   # client-side files (same path inside the client namespace)

# deterministic file contents ---------------------------------------------------------------
mkfile() { mkdir -p "$(dirname "$1")"; printf '%s\n' "${2:-$(basename "$1")}" >"$1"; }
mkexe() { # a small, inert PE-looking file (MZ header + DOS stub text), deterministic
  "$PY" - "$1" "${2:-6144}" <<'EOF'
import sys, hashlib
path, size = sys.argv[1], int(sys.argv[2])
head = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00' + b'\xb8' + b'\x00' * 47
head = head[:60] + (128).to_bytes(4, 'little')
stub = b'\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$'
body = head + stub.ljust(64, b'\x00') + b'PE\x00\x00' + b'smbtrail lab inert sample'
seed = hashlib.sha256(path.encode()).digest()
while len(body) < size:
    seed = hashlib.sha256(seed).digest(); body += seed
open(path, 'wb').write(body[:size])
EOF
}

client_data() {
  rm -rf "$D"; mkdir -p "$D"
  mkfile "$D/report-q3.txt" "Q3 report: revenue up 4%"
  mkfile "$D/=1+1 budget.csv" "item,amount"
  mkfile "$D/=cmd|' -C calc'!A0.txt" "formula-looking name"
  mkfile "$D/notes.txt" "meeting notes"
  mkfile "$D/secret-plan.docx" "merger plan draft"
  mkfile "$D/ledger.txt" "ledger 2024"
  mkfile "$D/Résumé – Ünïcødé 日本語.docx" "cv"
  mkfile "$D/minutes 2024-09-12.docx" "minutes"
  mkexe "$D/svcupdate.exe"
  chmod -R a+rX "$D"
}

# ------------------------------------------------------------------------------------------
s_01-smb21-session() {
  SRV_EXTRA=""; FMT=pcap
  run() {
    smbc -L "$SRV_NAME" -m SMB2_10 >/dev/null || true
    smbc "//$SRV_NAME/docs" -m SMB2_10 -c "lcd $D; ls; mkdir Reports; cd Reports; put report-q3.txt; \
put \"=1+1 budget.csv\"; put \"=cmd|' -C calc'!A0.txt\"; get report-q3.txt $D/report-copy.txt; \
rename report-q3.txt report-q3-final.txt; ls; del \"=1+1 budget.csv\"; del report-q3-final.txt; cd ..; ls Reports\\*; rmdir Reports" || true
  }
}
s_02-smb311-signed() {
  SRV_EXTRA="   server signing = mandatory"; FMT=pcapng
  run() {
    smbc "//$SRV_NAME/docs" -m SMB3_11 --client-protection=sign \
      -c "lcd $D; ls; cd Finance\\2024; get \"Q3 budget.xlsx\" $D/q3.xlsx; put notes.txt; ls" || true
  }
}
s_03-smb311-encrypted() {
  SRV_EXTRA="   server smb encrypt = required"; FMT=pcap
  run() {
    smbc "//$SRV_NAME/docs" -m SMB3_11 \
      -c "lcd $D; ls; cd HR\\Policies; get travel-policy.pdf $D/travel.pdf; put secret-plan.docx; ls" || true
  }
}
s_04-smb1-nt1() {
  SRV_EXTRA="   server min protocol = NT1"; FMT=pcap
  run() {
    smbc "//$SRV_NAME/docs" -m NT1 --option='client min protocol=NT1' \
      -c "lcd $D; ls; put ledger.txt; get README.txt $D/readme-copy.txt; get ledger.txt $D/ledger-copy.txt; \
cd Projects\\Apollo; get kickoff-notes.docx $D/kickoff.docx; ls" || true
  }
}
s_05-admin-share-exe-copy() {
  SRV_EXTRA=""; FMT=pcap
  run() {
    smbc "//$SRV_NAME/ADMIN\$" -c "lcd $D; put svcupdate.exe; ls svcupdate.exe" || true
    smbc "//$SRV_NAME/C\$" -c "lcd $D; cd Windows\\Temp; put svcupdate.exe; ls" || true
  }
}
s_06-impacket-psexec() {
  SRV_EXTRA=""; FMT=pcap
  run() { IMPK_TIMEOUT=60 impk psexec.py -target-ip "$SRV_IP" "$IMPK_TARGET" whoami </dev/null >/dev/null 2>&1 || true; }
}
s_07-psexec-footprint() {
  SRV_EXTRA=""; FMT=pcap
  run() {
    cli 60 -- "$PY" "$LAB_DIR/psexec_footprint.py" "$SRV_NAME" "$SRV_IP" "$LAB_DOMAIN" "$LAB_USER" "$LAB_PASS" "$CLI_NAME" 4242 \
      >"$LAB_WORK/footprint.log" 2>&1 || true
  }
}
s_08-smbexec-services() {
  SRV_EXTRA=""; FMT=pcap
  run() {
    printf 'whoami\nexit\n' | IMPK_TIMEOUT=40 impk smbexec.py -target-ip "$SRV_IP" "$IMPK_TARGET" >/dev/null 2>&1 || true
    local a
    for a in "create -name LabUpdater -display LabUpdater -path C:\\Windows\\Temp\\svcupdate.exe" \
             "start -name LabUpdater" "delete -name LabUpdater"; do
      # shellcheck disable=SC2086
      IMPK_TIMEOUT=30 impk services.py -target-ip "$SRV_IP" "$IMPK_TARGET" $a </dev/null >/dev/null 2>&1 || true
    done
  }
}
s_09-discovery() {
  SRV_EXTRA=""; FMT=pcap
  run() {
    cli 60 -- "$PY" "$LAB_DIR/discovery.py" "$SRV_NAME" "$SRV_IP" "$LAB_DOMAIN" "$LAB_USER" "$LAB_PASS" "$CLI_NAME" \
      >"$LAB_WORK/discovery.log" 2>&1 || true
    IMPK_TIMEOUT=60 impk samrdump.py -target-ip "$SRV_IP" "$IMPK_TARGET" </dev/null >/dev/null 2>&1 || true
    IMPK_TIMEOUT=60 impk lookupsid.py -target-ip "$SRV_IP" "$IMPK_TARGET" 1010 </dev/null >/dev/null 2>&1 || true
  }
}
s_10-many-small-files() {
  SRV_EXTRA=""; FMT=pcap
  run() {
    local i; mkdir -p "$D/batch"
    for i in $(seq -w 1 2000); do printf 'r%s\n' "$i" >"$D/batch/rec_$i.dat"; done
    smbc "//$SRV_NAME/docs" -c "mkdir Inbox; cd Inbox; lcd $D/batch; prompt off; mput rec_*.dat" >/dev/null || true
  }
}
s_11-benign-baseline() {
  SRV_EXTRA=""; FMT=pcap
  LONGPATH='Projects\Apollo\Design Reviews\2024\Q3 Planning Meeting Materials\Final Versions For Distribution\Approved by Steering Committee'
  run() {
    smbc "//$SRV_NAME/docs" -c "lcd $D; ls; cd Finance; ls; cd 2024; ls; get \"Q3 budget.xlsx\" $D/q3-budget.xlsx; \
cd \\HR\\Policies; ls; get holidays-2024.docx $D/holidays.docx; cd \\Projects\\Apollo; ls; get kickoff-notes.docx $D/kickoff.docx; \
put \"minutes 2024-09-12.docx\"; put \"Résumé – Ünïcødé 日本語.docx\"; ls" || true
    local p='' part
    IFS='\' read -ra parts <<<"$LONGPATH"
    local cmds="lcd $D"
    for part in "${parts[@]}"; do p="${p:+$p\\}$part"; cmds+="; mkdir \"$p\""; done
    cmds+="; cd \"$p\"; put \"minutes 2024-09-12.docx\"; ls"
    smbc "//$SRV_NAME/docs" -c "$cmds" || true
  }
}

s_12-remote-admin-rpc() {
  # eventlog list: Samba serves ElfrOpenELW only for the logs named here (its default is none)
  SRV_EXTRA="   eventlog list = Security System"; FMT=pcap
  run() {
    # Windows-like keys in the server's registry.tdb (local, no traffic), so that secretsdump gets
    # past the boot-key reads and reg.py finds the Run key; Samba has none of them by default
    local k
    for k in 'HKLM\SYSTEM\CurrentControlSet\Control\Lsa\JD' 'HKLM\SYSTEM\CurrentControlSet\Control\Lsa\Skew1' \
             'HKLM\SYSTEM\CurrentControlSet\Control\Lsa\GBG' 'HKLM\SYSTEM\CurrentControlSet\Control\Lsa\Data' \
             'HKLM\SAM' 'HKLM\SECURITY' 'HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run'; do
      srv_net registry createkey "$k" >/dev/null || true
    done
    # Samba opens a log only if its tdb exists and checks that file's ACL: give alice the Security log
    local E="$LAB_WORK/server/var/lib/samba/eventlog"
    mkdir -p "$E"
    "$PY" -c 'import sys, os, tdb; tdb.Tdb(sys.argv[1], 0, tdb.DEFAULT, os.O_RDWR | os.O_CREAT, 0o660).close()' "$E/security.tdb"
    chown "$LAB_UID:$LAB_GID" "$E/security.tdb"
    IMPK_TIMEOUT=60 impk secretsdump.py -target-ip "$SRV_IP" "$IMPK_TARGET" </dev/null >"$LAB_WORK/secretsdump.log" 2>&1 || true
    IMPK_TIMEOUT=30 impk reg.py -target-ip "$SRV_IP" "$IMPK_TARGET" add -keyName 'HKLM\Software\Microsoft\Windows\CurrentVersion\Run' \
      -v LabUpdater -vt REG_SZ -vd 'C:\Windows\Temp\svcupdate.exe' </dev/null >"$LAB_WORK/reg-add.log" 2>&1 || true
    IMPK_TIMEOUT=30 impk reg.py -target-ip "$SRV_IP" "$IMPK_TARGET" save -keyName 'HKLM\SAM' -o 'C:\Windows\Temp' \
      </dev/null >"$LAB_WORK/reg-save.log" 2>&1 || true
    cli 60 -- "$PY" "$LAB_DIR/remote_admin_rpc.py" "$SRV_NAME" "$SRV_IP" "$LAB_DOMAIN" "$LAB_USER" "$LAB_PASS" "$CLI_NAME" \
      >"$LAB_WORK/remote_admin_rpc.log" 2>&1 || true
  }
}
# srv_net ARGS...: Samba's `net` on the server's private state (same mounts as smbd, no network).
# No PID namespace: net's messaging lock is named by PID, and PID 1 is smbd's.
srv_net() {
  ip netns exec "$NS_SRV" unshare --mount --fork "$LAB_DIR/nsroot.sh" server net -s /etc/samba/smb.conf "$@"
}

s_13-psexec-clones() {
  SRV_EXTRA=""; FMT=pcap
  run() {
    cli 90 -- "$PY" "$LAB_DIR/clone_footprints.py" "$SRV_NAME" "$SRV_IP" "$LAB_DOMAIN" "$LAB_USER" "$LAB_PASS" "$CLI_NAME" 5151 \
      >"$LAB_WORK/clones.log" 2>&1 || true
  }
}

s_14-samba-dc-zerologon-dcsync() {
  # the server is a freshly provisioned Samba AD DC (DC01, LAB.TEST) instead of FS01's smbd
  SRV_EXTRA=""; FMT=pcap; SRV_START=dc_start; SRV_STOP=dc_stop
  run() {
    # Zerologon: ept_map on 135, then 30 x (NetrServerReqChallenge, NetrServerAuthenticate3 with a
    # zero credential for DC01$) on netlogon's dynamic port; Samba refuses each one
    cli 60 -- "$PY" "$LAB_DIR/zerologon_attempt.py" "$DC_NAME" "$SRV_IP" 30 >"$LAB_WORK/zerologon.log" 2>&1 || true
    # DCSync of krbtgt with the domain admin's password: SMB session, then drsuapi over
    # ncacn_ip_tcp (DsBind, DsDomainControllerInfo, DsCrackNames, DsGetNCChanges; packet privacy)
    IMPK_TIMEOUT=60 impk secretsdump.py -target-ip "$SRV_IP" -just-dc-user "$LAB_DOMAIN/krbtgt" \
      "$LAB_DOMAIN/$DC_ADMIN:$DC_PASS@$DC_NAME" </dev/null >"$LAB_WORK/secretsdump.log" 2>&1 || true
    # and a look at the DC's shares over SMB
    cli 60 -- smbclient -s /etc/samba/smb.conf -I "$SRV_IP" -U "$LAB_DOMAIN/$DC_ADMIN%$DC_PASS" --use-kerberos=off \
      "//$DC_NAME/sysvol" -c "ls; cd ${DC_REALM,,}; ls; cd Policies; ls" >"$LAB_WORK/smbclient.log" 2>&1 || true
  }
}

# ------------------------------------------------------------------------------------------
run_scenario() {
  local name=$1 fn="s_$1" cap
  declare -F "$fn" >/dev/null || die "unknown scenario: $name (try: ${SCENARIOS[*]})"
  SRV_START=srv_start; SRV_STOP=srv_stop   # a scenario may name other ones (dc_start, dc_stop)
  "$fn"
  cap="$OUT/$name.$FMT"
  log "scenario $name -> $cap"
  reset_shares
  client_data
  "$SRV_START" "$SRV_EXTRA"
  cap_start "$LAB_WORK/$name.pcap"
  local t0=$SECONDS
  run
  cap_stop
  "$SRV_STOP"
  rm -f "$OUT/$name.pcap" "$OUT/$name.pcapng" "$OUT/$name.pcap.truth.json" "$OUT/$name.pcapng.truth.json"
  if [ "$FMT" = pcapng ]; then editcap -F pcapng "$LAB_WORK/$name.pcap" "$cap"; else cp "$LAB_WORK/$name.pcap" "$cap"; fi
  "$PY" "$LAB_DIR/truth.py" "$cap" --name "$(basename "$cap")" >"$cap.truth.json"
  log "  $(capinfos -c -M "$cap" | sed -n 's/^Number of packets: *//p') packets, $(stat -c %s "$cap") bytes, $((SECONDS - t0))s"
}

main() {
  case "${1:-}" in
    cleanup) lab_cleanup; log "cleaned up"; return 0 ;;
    list) printf '%s\n' "${SCENARIOS[@]}"; return 0 ;;
  esac
  need_root; check_tools
  local sel=("$@"); [ ${#sel[@]} -gt 0 ] || sel=("${SCENARIOS[@]}")
  mkdir -p "$OUT"
  trap lab_cleanup EXIT
  trap 'exit 130' INT TERM
  net_up
  write_identity
  cli_conf
  local s; for s in "${sel[@]}"; do run_scenario "$s"; done
}
main "$@"
