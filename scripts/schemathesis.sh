#!/usr/bin/env bash
# Schemathesis, the property-based tester of the API against api/openapi.yaml, pinned
# with all its dependencies.
#
#   scripts/schemathesis.sh path    install it if missing, then print its executable
#
# It lives in a virtualenv under .cache/schemathesis. On a Debian machine without
# Python's venv module, Debian's python3-venv package is installed first (as root, like
# scripts/postgres.sh installs PostgreSQL). e2e/schemathesis_test.go runs it against two
# regions when WALLET_SCHEMATHESIS names the executable; scripts/test.sh sets it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The version, with every dependency pinned, is in scripts/schemathesis-requirements.txt.
REQUIREMENTS=scripts/schemathesis-requirements.txt
VENV=.cache/schemathesis
BIN="$VENV/bin/schemathesis"
STAMP="$VENV/requirements.sha256"

installed() {
	[ -x "$BIN" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(sha256sum <"$REQUIREMENTS")" ]
}

install() {
	if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
		echo "schemathesis: installing Debian's python3-venv package" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq python3 python3-venv >/dev/null
	fi
	rm -rf "$VENV"
	python3 -m venv "$VENV"
	echo "schemathesis: installing $(grep '^schemathesis==' "$REQUIREMENTS") into $VENV" >&2
	"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r "$REQUIREMENTS" >&2
	sha256sum <"$REQUIREMENTS" >"$STAMP"
}

case "${1:-}" in
path)
	installed || install
	echo "$PWD/$BIN"
	;;
*)
	echo "usage: $0 path" >&2
	exit 2
	;;
esac
