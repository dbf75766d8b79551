#!/usr/bin/env bash
# nsroot.sh ROLE CMD...  -- runs as PID 1 of a private PID + mount namespace (see lib.sh).
#
# Bind-mounts the lab's private copies over every system directory Samba (or its helpers
# samba-dcerpcd / rpcd_*) could read or write, and over /etc/passwd, /etc/group and /etc/hosts,
# so that nothing outside $LAB_WORK is touched. The mount namespace is private: none of these
# mounts is visible outside, and they vanish with the namespace.
#   ROLE = server | client   (selects $LAB_WORK/ROLE as the private root)
set -euo pipefail
role=$1; shift
: "${LAB_WORK:?LAB_WORK not set}"
R="$LAB_WORK/$role"
[ -d "$R" ] || { echo "nsroot: $R missing" >&2; exit 2; }

mount --make-rprivate /
for d in etc/samba var/lib/samba var/cache/samba var/log/samba run/samba; do
  mkdir -p "$R/$d"
  [ -d "/$d" ] || continue          # the package creates them; never create system dirs
  mount --bind "$R/$d" "/$d"
done
for f in passwd group hosts; do
  mount --bind "$LAB_WORK/etc/$f" "/etc/$f"
done
export HOME="$R/home" TMPDIR="$R/tmp"
mkdir -p "$HOME" "$TMPDIR"
cd "$R"
exec "$@"
