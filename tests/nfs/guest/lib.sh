# tests/nfs/guest/lib.sh - sourced by the scripts that run inside a test
# guest (chrooted in the host's read-only /).  The wrapper that run.sh
# writes sets: HN (this guest), PEER (the other guest), TEST (t1|t2|t3),
# HB (herald build dir), MNT (the NFS mount), GT (a tmpfs for scratch).
#
# The guests coordinate through files on the export: each appends state
# lines to $MNT/sync/$TEST-$HN (pre-created by the host) and reads the
# peer's.  A read opens the file, so NFS close-to-open consistency makes it
# fresh whatever the attribute cache says; a polled *name* would not be
# (negative lookups are cached for the directory's attribute lifetime).
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
LOCKTOOL=$HB/tests/locktool
HERALD=$HB/herald

# A result line on the serial console, parsed by run.sh.
res() { echo "RES $TEST $HN $*"; }
# Console lines that are only for the human reading the log.
note() { echo "# $HN: $*"; }
post() { echo "$*" >>"$MNT/sync/$TEST-$HN"; }
peer_has() { grep -q "^$1\( \|\$\)" "$MNT/sync/$TEST-$PEER" 2>/dev/null; }
peer_val() { sed -n "s/^$1 //p" "$MNT/sync/$TEST-$PEER" | tail -1; }
# wait_peer STATE SECONDS
wait_peer() {
	local end=$(($(date +%s) + $2))
	while ! peer_has "$1"; do
		if [ "$(date +%s)" -ge $end ]; then
			res "timeout waiting for $PEER to post '$1'"
			return 1
		fi
		sleep 0.2
	done
}
# The file server's clock, microseconds (a file just written there).
server_now() { "$LOCKTOOL" now "$1" | cut -d' ' -f1; }
# This guest's clock in ms (skewed on a skewed guest; fine for durations).
ms() { echo $(($(date +%s%N) / 1000000)); }
# Prints a file's lines on the console with a prefix.
show() { sed "s/^/# $HN $1: /" "$2"; }
