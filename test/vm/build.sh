#!/usr/bin/env bash
# Builds what the kernel-client interop test boots under QEMU: Debian's kernel (the ELF vmlinux, which QEMU
# starts through its PVH entry, skipping the in-guest decompression) and an initramfs with busybox, cifs.ko and
# its module closure, virtio-net, and the static helpers in this folder.
#
# Output (outside git): ${SMBKIT_VM_CACHE:-<repo>/.cache/kernel-vm}/{vmlinux,initramfs.cpio,kernel-version}.
# Idempotent: a second run with the same inputs does nothing. Needs apt-get (download only, no install),
# dpkg-deb, kmod (depmod, modprobe), xz and gcc with a static libc; .ci/install-peers.sh installs them.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SMBKIT_VM_CACHE:-$repo/.cache/kernel-vm}
mkdir -p "$cache"

# One build at a time (install-peers.sh and a test may both ask).
exec 9>"$cache/.lock"
flock 9

[ "$(dpkg --print-architecture)" = amd64 ] || { echo "kernel-vm: needs an amd64 Debian host (the guest is Debian's amd64 kernel)" >&2; exit 1; }

inputs=$(cat "$here/build.sh" "$here/init" "$here/lockhelper.c" "$here/holdfile.c" "$here/xattrhelper.c" | sha256sum | cut -d' ' -f1)
if [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$inputs" ] && [ -f "$cache/vmlinux" ] && [ -f "$cache/initramfs.cpio" ]; then
  echo "kernel-vm: up to date ($(cat "$cache/kernel-version"))"
  exit 0
fi
rm -f "$cache/stamp"

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
debs=$cache/debs
mkdir -p "$debs"

# The image package the linux-image-amd64 metapackage points at (e.g. linux-image-6.1.0-56-amd64).
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || { echo "kernel-vm: apt-cache knows no linux-image-amd64 (run apt-get update)" >&2; exit 1; }
fetch() { # package -> path of its .deb in $debs (downloaded once)
  local f
  f=$(ls "$debs/$1"_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$f" ]; then
    (cd "$debs" && apt-get download -q "$1" >&2)
    f=$(ls "$debs/$1"_*.deb | head -n1)
  fi
  echo "$f"
}
kdeb=$(fetch "$kpkg")
find "$debs" -name 'linux-image-*.deb' ! -name "${kpkg}_*" -delete # an older kernel's package
bdeb=$(fetch busybox-static)

dpkg-deb -x "$kdeb" "$work/k"
dpkg-deb -x "$bdeb" "$work/bb"
kver=$(ls "$work/k/lib/modules" | head -n1)

# vmlinuz is a bzImage wrapping an xz stream: find the stream whose content is an ELF file.
: > "$work/vmlinux"
for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$work/k/boot/vmlinuz-$kver" | cut -d: -f1); do
  tail -c +$((off + 1)) "$work/k/boot/vmlinuz-$kver" | xz -dc --single-stream > "$work/vmlinux" 2>/dev/null || true
  [ "$(head -c 4 "$work/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] && break
  : > "$work/vmlinux"
done
[ -s "$work/vmlinux" ] || { echo "kernel-vm: no ELF vmlinux inside vmlinuz-$kver" >&2; exit 1; }

# The initramfs tree.
root=$work/root
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,mnt,test,lib/modules/"$kver"}
cp "$work/bb/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
for applet in modprobe insmod reboot; do ln -sf ../bin/busybox "$root/sbin/$applet"; done
install -m 0755 "$here/init" "$root/init"
for helper in lockhelper holdfile xattrhelper; do
  gcc -static -O2 -Wall -Wextra -o "$root/bin/$helper" "$here/$helper.c"
done

# cifs.ko, what it depends on, its soft dependencies (crypto, nls), the algorithms gcm and ccm pull in at run
# time, and the virtio network card, in load order.
depmod -b "$work/k" "$kver"
names="cifs $(modinfo -b "$work/k" -k "$kver" -F softdep cifs | sed 's/^[a-z]*://') nls_utf8 crypto-ghash crypto-ctr virtio_pci virtio_net"
: > "$work/order"
for n in $names; do
  modprobe -d "$work/k" -S "$kver" --show-depends "$n" 2>/dev/null | awk '$1 == "insmod" { print $2 }' >> "$work/order" || true
done
moddir=$work/k/lib/modules/$kver
: > "$root/etc/modules.load"
awk '!seen[$0]++' "$work/order" | while read -r path; do
  rel=${path#"$moddir"/}
  mkdir -p "$(dirname "$root/lib/modules/$kver/$rel")"
  cp "$path" "$root/lib/modules/$kver/$rel"
  echo "$rel" >> "$root/etc/modules.load"
done
grep -q 'fs/smb/client/cifs.ko\|fs/cifs/cifs.ko' "$root/etc/modules.load" || { echo "kernel-vm: cifs.ko not found" >&2; exit 1; }
cp "$moddir"/modules.builtin "$moddir"/modules.builtin.modinfo "$moddir"/modules.order "$root/lib/modules/$kver/"
depmod -b "$root" "$kver"

(cd "$root" && find . | LC_ALL=C sort | "$root/bin/busybox" cpio -o -H newc 2>/dev/null) > "$work/initramfs.cpio"

mv -f "$work/vmlinux" "$cache/vmlinux"
mv -f "$work/initramfs.cpio" "$cache/initramfs.cpio"
echo "$kver $(dpkg-deb -f "$kdeb" Version) ($(wc -l < "$root/etc/modules.load") modules)" > "$cache/kernel-version"
echo "$inputs" > "$cache/stamp"
echo "kernel-vm: built $(cat "$cache/kernel-version") in $cache"
