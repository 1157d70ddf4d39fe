#!/usr/bin/env bash
# Installs what herald needs to build and test on Debian 12 (as root).
set -euo pipefail
pkgs=(build-essential pkg-config libglib2.0-dev libgmime-3.0-dev
      libsodium-dev libidn2-dev libssl-dev libmicrohttpd-dev faketime procps coreutils
      postfix libpsl-dev libxml2-dev libsqlite3-dev publicsuffix dnsmasq-base clang python3 zlib1g-dev
      python3-dkim libxml2-utils debhelper lintian groff-base)
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
