#!/usr/bin/env bash
# Installs the real SMB peers the interop tests talk to (Debian 12 packages).
# Safe to run repeatedly; never starts Debian's own smbd/nmbd.
set -euo pipefail
need=()
for bin in smbd smbclient smbtorture tshark nmap dig wsdd ip; do command -v "$bin" >/dev/null 2>&1 || need+=("$bin"); done
/usr/bin/python3 -c 'import impacket' >/dev/null 2>&1 || need+=(impacket)
# Discovery peers (test/interop/discovery.test.ts): dig, wsdd, python3-zeroconf, and ip for network namespaces.
/usr/bin/python3 -c 'import zeroconf' >/dev/null 2>&1 || need+=(zeroconf)
# The reference Samba runs with acl_xattr + streams_xattr (Debian's samba-vfs-modules).
ls /usr/lib/*/samba/vfs/streams_xattr.so >/dev/null 2>&1 || need+=(samba-vfs-modules)
[ ${#need[@]} -eq 0 ] && { echo "peers: all present"; exit 0; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Keep Debian's package scripts from starting smbd/nmbd on every address.
printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
$SUDO chmod +x /usr/sbin/policy-rc.d
trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  samba samba-vfs-modules smbclient samba-testsuite python3-impacket nmap tshark samba-common-bin \
  bind9-dnsutils wsdd python3-zeroconf iproute2
