#!/usr/bin/env bash
# Installs what herald needs to build and test on Debian 12 (as root).
set -euo pipefail
pkgs=(build-essential pkg-config libglib2.0-dev libgmime-3.0-dev
      libsodium-dev libidn2-dev libssl-dev libmicrohttpd-dev libjson-glib-dev faketime procps coreutils
      postfix libpsl-dev libxml2-dev libsqlite3-dev publicsuffix dnsmasq-base clang python3 zlib1g-dev
      python3-dkim libxml2-utils tidy chromium apache2-utils
      debhelper lintian groff-base debootstrap systemd-container)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	# postfix's postinst asks how to configure the system's mail: leave
	# it unconfigured (the tests run their own instance, tests/postfix/).
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# inn2 (the mail-news gateway's test, tests/integration/news-inn.sh, runs
# INN from its own tree): its postinst fails where the host name has no
# domain (innconfval) or where newaliases cannot run (no configured
# Postfix): give it a domain and the alias it would add, then configure.
if ! dpkg-query -W -f='${Status}' inn2 2>/dev/null | grep -q "ok installed"; then
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq --no-install-recommends inn2 >/dev/null 2>&1; then
		grep -q '^domain:' /etc/news/inn.conf ||
			sed -i 's/^#domain:.*/domain: localdomain/' /etc/news/inn.conf
		grep -q '^usenet:' /etc/aliases 2>/dev/null || echo "usenet: root" >>/etc/aliases
		dpkg --configure inn2 >/dev/null
	fi
fi
# node and npm: Debian's unless the machine has them already (a nodesource
# nodejs carries its own npm and conflicts with Debian's).
if ! command -v npm >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# playwright-core (tests/web/package.json, pinned in its lock file) drives
# Debian's chromium in the browser tests; no browser is downloaded.
if [ ! -d "$(dirname "$0")/../tests/web/node_modules/playwright-core" ]; then
	(cd "$(dirname "$0")/../tests/web" &&
	 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
fi
