#!/usr/bin/env bash
# Installs the real SMB peers the interop tests talk to (Debian 12 packages), then builds the kernel-client
# VM (test/vm/build.sh: Debian's kernel + an initramfs with cifs.ko, cached in .cache/kernel-vm).
# Safe to run repeatedly; never starts Debian's own smbd/nmbd.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
need=()
for bin in smbd smbclient smbtorture tshark nmap dig wsdd ip; do command -v "$bin" >/dev/null 2>&1 || need+=("$bin"); done
/usr/bin/python3 -c 'import impacket' >/dev/null 2>&1 || need+=(impacket)
# Discovery peers (test/interop/discovery.test.ts): dig, wsdd, python3-zeroconf, and ip for network namespaces.
/usr/bin/python3 -c 'import zeroconf' >/dev/null 2>&1 || need+=(zeroconf)
# The reference Samba runs with acl_xattr + streams_xattr (Debian's samba-vfs-modules).
ls /usr/lib/*/samba/vfs/streams_xattr.so >/dev/null 2>&1 || need+=(samba-vfs-modules)
# The kernel-client VM: QEMU, kmod (depmod/modprobe on the unpacked kernel), OpenBSD netcat (nc -N forwards
# the guest's connection), xz (vmlinux inside vmlinuz), gcc with a static libc (the guest's helpers).
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
command -v depmod >/dev/null 2>&1 || need+=(kmod)
{ nc -h 2>&1 || true; } | grep -q -- '-N' || need+=(netcat-openbsd)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
{ command -v gcc >/dev/null 2>&1 && [ -n "$(gcc -print-file-name=libc.a | grep /)" ]; } || need+=(gcc libc6-dev)
if [ ${#need[@]} -eq 0 ]; then
  echo "peers: all present"
else
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
    bind9-dnsutils wsdd python3-zeroconf iproute2 \
    qemu-system-x86 kmod netcat-openbsd xz-utils gcc libc6-dev
fi
bash "$here/../test/vm/build.sh"
