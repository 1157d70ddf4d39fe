#!/bin/sh
# build-guest.sh OUT - a tiny NFS-client guest for tests/nfs/run.sh: the
# Debian kernel (downloaded and extracted, never installed) and a busybox
# initramfs that loads the virtio, 9p and NFSv4 modules and runs tests/nfs/guest/init.
#
# Needs: apt-get, dpkg-deb, depmod (kmod), busybox-static, cpio, gzip, gcc
# with a static libc.  Output in OUT: vmlinuz, initrd.gz.  The kernel
# package is kept, so a rebuild (after init changed) takes about a second.
# Adapted from the measured kit in /work/shared/nfs-lab/guest.
set -eu
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
cd "$OUT"
PKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$PKG" ] || { echo "build-guest: no linux-image package known to apt (run apt-get update)" >&2; exit 1; }
K=${PKG#linux-image-}
if [ ! -d "root/lib/modules/$K" ]; then
	rm -f "$PKG"_*.deb
	apt-get download "$PKG" >/dev/null
	dpkg-deb -x "$PKG"_*.deb root
	rm -f "$PKG"_*.deb
fi
depmod -b "$OUT/root" "$K"
M=root/lib/modules/$K
for m in virtio_pci virtio_net nfsv4 9pnet_virtio 9p; do
	grep -E "(^|/)$m\.ko:" "$M/modules.dep" | head -1 | tr -d ':' | tr ' ' '\n' | tac
done | awk 'NF && !seen[$0]++' >mods.txt
gcc -static -O2 -o nfsmount "$HERE/nfsmount.c"
rm -rf initrd
mkdir -p initrd/bin initrd/mods initrd/proc initrd/sys initrd/dev initrd/host
cp /usr/bin/busybox nfsmount initrd/bin/
for m in $(cat mods.txt); do cp "$M/$m" initrd/mods/; done
xargs -n1 basename <mods.txt >initrd/mods/order
cp "$HERE/init" initrd/init
chmod +x initrd/init
(cd initrd && find . | cpio -o -H newc 2>/dev/null | gzip -1 >../initrd.gz)
ln -sf "root/boot/vmlinuz-$K" vmlinuz
echo "kernel $K, initrd $(du -h initrd.gz | cut -f1)"
