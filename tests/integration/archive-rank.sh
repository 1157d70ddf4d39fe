#!/usr/bin/env bash
# The order of `herald archive search` results: herald ranks with its own
# BM25 (src/lib/archive/rank.c), which estimates a phrase's document
# frequency from the newest 5,000 messages instead of counting all of
# them. In an archive that small the estimate is exact, so the order must
# be SQLite's own bm25() order, computed here independently by Python's
# sqlite3 module over the same index (the newest 500 matches, best first,
# then the newer). Then, by hand: a rare word weighs more than a common
# one, and a short message that repeats the word ranks above a long one
# that has it once.
. "$(dirname "$0")/../lib.sh"
V=$(new_var v)
L=rank@example.org
"$HERALD" --var "$V" lists create $L --owner admin@example.org >/dev/null
python3 "$HERALD_TOP/bench/archive-gen.py" 1500 "$T_DIR/in.mbox" 7
check "a generated archive imports" "$HERALD" --var "$V" archive import $L "$T_DIR/in.mbox"
DB=$V/archives/$L/search.db

# bm25_order FTS5-EXPRESSION: the first 20 as SQLite's bm25() orders them.
bm25_order() {
	python3 - "$DB" "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute(
    "SELECT m.period, m.num, m.date, bm25(fts) FROM fts JOIN msg m"
    " ON m.num = fts.rowid WHERE fts MATCH ? ORDER BY fts.rowid DESC"
    " LIMIT 500", (sys.argv[2],)).fetchall()
rows.sort(key=lambda r: (r[3], -r[2], -r[1]))
for period, num, _, _ in rows[:20]:
    print("%s/%06d.html" % (period, num))
EOF
}
herald_order() { "$HERALD" --var "$V" archive search $L "$1" | cut -f1 | head -20; }
same_order() {	# same_order QUERY EXPRESSION
	local a b
	a=$(herald_order "$1") b=$(bm25_order "$2")
	[ -n "$a" ] && [ "$a" = "$b" ] || { diag "herald: $(echo $a)"; diag "bm25:   $(echo $b)"; return 1; }
}
check "a common word: bm25's order" same_order kernel '"kernel"'
check "a rarer word: bm25's order" same_order driver '"driver"'
check "a phrase: bm25's order" same_order '"memory buffer"' '"memory buffer"'
check "two words: bm25's order" same_order 'patch driver' '"patch" AND "driver"'
check "from: bm25's order" same_order from:greta 'author : "greta"'
check "subject: and a word: bm25's order" same_order 'subject:driver kernel' 'subject : "driver" AND "kernel"'

# By hand, in a list of its own: "zephyr" once in a long message, once
# in a short one, three times in a short one; "tern" in every message,
# "quokka" in two of the nine, with "tern" five times and "quokka" once
# in one, the other way round in the other (the same length: only the
# words' weights tell them apart, and equal weights would put the first
# first).
V2=$(new_var v2)
"$HERALD" --var "$V2" lists create $L --owner admin@example.org >/dev/null
post() {	# post N BODY: message N, subject N
	printf 'From: p%s@example.org\nSubject: s%s\nMessage-ID: <r%s@example.org>\nDate: Mon, 7 Dec 2026 0%s:00:00 +0000\n\n%s\n' \
		"$1" "$1" "$1" "$1" "$2" | "$HERALD" --var "$V2" archive add $L >/dev/null
}
post 1 "zephyr tern $(printf 'word%d ' $(seq 1 300))"
post 2 "zephyr tern short"
post 3 "zephyr zephyr zephyr tern"
post 4 "tern tern tern tern tern tern"
post 5 "quokka tern tern tern tern tern"
post 6 "quokka quokka quokka tern other other"
for n in 7 8 9; do post $n "tern plain"; done
s2() { "$HERALD" --var "$V2" archive search $L "$@" | cut -f4 | tr '\n' ' '; }
check "repeated in a short message first, once in a long one last" \
	test "$(s2 zephyr)" = "s3 s2 s1 "
check "a rare word outweighs a common one" test "$(s2 tern quokka)" = "s6 s5 "
t_done
