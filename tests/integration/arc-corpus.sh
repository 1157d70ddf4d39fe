#!/usr/bin/env bash
# ARC (src/lib/mail/arc.c) against ValiMail's ARC test suite
# (tests/data/arc, MIT): every validation case's expected cv (none, pass,
# fail) reproduced by arc_validate(); every signing case sealed by
# arc_seal() with the suite's key and time, and the sealed message's chain
# found valid both by arc_validate() and by python3-dkim's independent
# ARC verifier.  Then hostile chains: hundreds of ARC fields, malformed
# tags, an instance past the limit, answered in bounded time.
. "$(dirname "$0")/../lib.sh"
ARCTOOL=$TOOLS/arctool
SUITE=$HERALD_TOP/tests/data/arc/tests
/usr/bin/python3 -c 'import yaml, dkim' 2>/dev/null ||
	{ skip "arc-corpus: no python3-yaml or python3-dkim"; t_done; }

# The suite's YAML, as files: NAME.eml, a DNS table per document
# (NAME<TAB>RECORD), and lines NAME<TAB>CV<TAB>DNS (validation) or
# NAME<TAB>DNS<TAB>KEY<TAB>DOMAIN<TAB>SELECTOR<TAB>SRVID<TAB>T<TAB>HEADERS
# (signing).
/usr/bin/python3 - "$SUITE" "$T_DIR" <<'PY'
import os, re, sys, yaml
suite, out = sys.argv[1:]
def dns_file(doc, n):
    path = os.path.join(out, "dns-%d" % n)
    with open(path, "w") as f:
        for k, v in (doc.get("txt-records") or {}).items():
            f.write("%s\t%s\n" % (k, "".join(str(v).split("\n"))))
    return path
n = 0
with open(os.path.join(out, "validate"), "w") as exp:
    for doc in yaml.safe_load_all(open(os.path.join(suite, "arc-draft-validation-tests.yml"))):
        if not doc:
            continue
        n += 1
        dns = dns_file(doc, n)
        for name, t in doc["tests"].items():
            open(os.path.join(out, name + ".eml"), "w").write(t["message"])
            # An empty cv: the suite's way of saying the chain fails.
            exp.write("%s\t%s\t%s\n" % (name, str(t["cv"]).strip().lower() or "fail", dns))
with open(os.path.join(out, "sign"), "w") as exp:
    for doc in yaml.safe_load_all(open(os.path.join(suite, "arc-draft-sign-tests.yml"))):
        if not doc:
            continue
        n += 1
        dns = dns_file(doc, n)
        key = os.path.join(out, "key-%d.pem" % n)
        open(key, "w").write(doc["privatekey"])
        for name, t in doc["tests"].items():
            open(os.path.join(out, name + ".eml"), "w").write(t["message"])
            # What the suite expects of the seal: none, or its cv=.
            m = re.search(r"cv=(\w+)", t.get("AS") or "")
            exp.write("\t".join([name, dns, key, doc["domain"], doc["sel"], t["srv-id"],
                                 str(t["t"]), t["sig-headers"],
                                 m.group(1) if m else "noseal"]) + "\n")
PY
check "the suite converts: at least 150 validation and 15 signing cases" \
	bash -c '[ "$(wc -l <"$1/validate")" -ge 150 ] && [ "$(wc -l <"$1/sign")" -ge 15 ]' _ "$T_DIR"

validate_all() {
	local n cv dns got bad=0
	while IFS=$'\t' read -r n cv dns; do
		got=$("$ARCTOOL" validate "$T_DIR/$n.eml" "$dns")
		[ "${got%% *}" = "cv=$cv" ] || { diag "$n: expected cv=$cv, got $got"; bad=1; }
	done <"$T_DIR/validate"
	return $bad
}
check "every validation case gives the suite's cv" validate_all

# The suite's keys are 1024-bit RSA (python3-dkim's default minimum).
py_arc() {
	/usr/bin/python3 - "$@" <<'PY'
import sys, dkim
msg = open(sys.argv[1], "rb").read()
dns = dict(l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2]) if "\t" in l)
def lookup(name, timeout=5):
    return dns.get(name.decode().rstrip(".").lower(), "").encode()
cv, res, why = dkim.arc_verify(msg, dnsfunc=lookup)
print(cv.decode() if cv else "none", why)
# A failed chain: python3-dkim says fail, or no cv with "terminated".
want_pass = (sys.argv[3] if len(sys.argv) > 3 else "pass") == "pass"
sys.exit(0 if (cv == b"pass") == want_pass else 1)
PY
}
# Each signing case: sealed (cv=none or pass) and valid for both
# verifiers; sealed with cv=fail after a failing chain, which both then
# find failed; or, after a seal that said cv=fail, not sealed at all.
seal_all() {
	local n dns key d s srv t h want bad=0 out
	while IFS=$'\t' read -r n dns key d s srv t h want; do
		if ! "$ARCTOOL" seal "$T_DIR/$n.eml" "$dns" "$key" "$d" "$s" "$srv" "$t" "$h" >"$T_DIR/$n.set" 2>/dev/null; then
			[ "$want" = noseal ] || { diag "$n: sealing failed"; bad=1; }
			continue
		fi
		[ "$want" != noseal ] || { diag "$n: sealed a chain that had ended"; bad=1; continue; }
		grep -q "^ARC-Seal: .*cv=$want;" "$T_DIR/$n.set" || { diag "$n: not cv=$want: $(head -1 "$T_DIR/$n.set")"; bad=1; }
		cat "$T_DIR/$n.set" "$T_DIR/$n.eml" >"$T_DIR/$n.sealed"
		[ "$want" = fail ] && want=fail || want=pass
		out=$("$ARCTOOL" validate "$T_DIR/$n.sealed" "$dns")
		[ "${out%% *}" = "cv=$want" ] || { diag "$n: herald: $out"; bad=1; }
		out=$(py_arc "$T_DIR/$n.sealed" "$dns" "$want") || { diag "$n: python3-dkim: $out"; bad=1; }
	done <"$T_DIR/sign"
	return $bad
}
check "every signing case, sealed by herald, validates (herald and python3-dkim)" seal_all

# A second seal on a sealed message: instance 2, cv=pass, still valid.
reseal() {
	local n dns key d s srv t h want
	IFS=$'\t' read -r n dns key d s srv t h want <"$T_DIR/sign"
	"$ARCTOOL" seal "$T_DIR/$n.sealed" "$dns" "$key" "$d" "$s" "$srv" 12346 "$h" >"$T_DIR/second.set" &&
	grep -q '^ARC-Seal: i=2; .*cv=pass' "$T_DIR/second.set" &&
	cat "$T_DIR/second.set" "$T_DIR/$n.sealed" >"$T_DIR/second.eml" &&
	"$ARCTOOL" validate "$T_DIR/second.eml" "$dns" | grep -q '^cv=pass sets=2' &&
	py_arc "$T_DIR/second.eml" "$dns" >/dev/null
}
check "sealing a sealed message adds instance 2 with cv=pass, valid for both verifiers" reseal

# Hostile: 300 ARC sets of garbage and absurd tags, a chain at i=51.
hostile() {
	local n dns key d s srv t h want start
	IFS=$'\t' read -r n dns key d s srv t h want <"$T_DIR/sign"
	{
		for i in $(seq 1 300); do
			echo "ARC-Seal: i=$i; a=rsa-sha256; cv=pass; d=example.org; s=dummy; b=$(head -c 3000 /dev/zero | tr '\0' A)"
			echo "ARC-Message-Signature: i=$i; a=rsa-sha256; l=999999999999999999999; z=$(head -c 5000 /dev/zero | tr '\0' x); h=from; bh=x; b=y; d=example.org; s=dummy"
			echo "ARC-Authentication-Results: i=$i; x; ;; =; dkim=pass"
		done
		cat "$T_DIR/$n.eml"
	} >"$T_DIR/hostile.eml"
	start=$(date +%s)
	"$ARCTOOL" validate "$T_DIR/hostile.eml" "$dns" | grep -q '^cv=fail' &&
	"$ARCTOOL" seal "$T_DIR/hostile.eml" "$dns" "$key" "$d" "$s" "$srv" "$t" "$h" >/dev/null 2>&1
	[ $? -ne 0 ] || { diag "a 300-set chain was sealed"; return 1; }
	[ $(( $(date +%s) - start )) -lt 10 ]
}
check "300 hostile ARC sets: cv=fail, no seal past instance 50, in bounded time" hostile
t_done
