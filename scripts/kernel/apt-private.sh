#!/bin/bash
# Private apt configuration under $CACHE_DIR: lets us look up and download
# Debian's linux-source packages from trixie / trixie-backports /
# bookworm-backports without touching the machine's own apt state.
# Usage: apt-private.sh update | policy PKG... | download PKG[=VER]...
set -euo pipefail
: "${CACHE_DIR:=$HOME/.cache/meta-qcom-scm}"
APT_DIR="$CACHE_DIR/kernel/apt"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" \
	"$APT_DIR/etc/preferences.d" "$APT_DIR/etc/sources.list.d"
cat > "$APT_DIR/etc/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
SRC
APT_OPTS=(
	-o "Dir::Etc::SourceList=$APT_DIR/etc/sources.list"
	-o "Dir::Etc::SourceParts=$APT_DIR/etc/sources.list.d"
	-o "Dir::Etc::PreferencesParts=$APT_DIR/etc/preferences.d"
	-o "Dir::State::Lists=$APT_DIR/lists"
	-o "Dir::State::status=/dev/null"
	-o "Dir::Cache=$APT_DIR/cache"
	-o "Dir::Cache::archives=$APT_DIR/cache/archives"
	-o "APT::Get::List-Cleanup=0"
	-o "Acquire::Languages=none"
	-o "APT::Architecture=amd64"
	-o "APT::Architectures=amd64"
	-o "Debug::NoLocking=1"
	-o "APT::Sandbox::User=root"
)
cmd=${1:-}
shift || true
case "$cmd" in
update) apt-get "${APT_OPTS[@]}" -q update ;;
policy) apt-cache "${APT_OPTS[@]}" policy "$@" ;;
madison) apt-cache "${APT_OPTS[@]}" madison "$@" ;;
search) apt-cache "${APT_OPTS[@]}" search "$@" ;;
download)
	# apt-get download writes into the current directory.
	apt-get "${APT_OPTS[@]}" -q download "$@" ;;
*) echo "usage: $0 update|policy|madison|search|download" >&2; exit 2 ;;
esac
