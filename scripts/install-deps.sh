#!/usr/bin/env bash
# scripts/install-deps.sh -- installs the Debian 12 packages globalkv needs to
# build, test and run, when they are missing.  Needs root; a no-op when
# everything is there.  Used by `make test` and `make demo`.
set -euo pipefail
PACKAGES="build-essential pkg-config libpq-dev postgresql-15 postgresql-server-dev-15 libipc-run-perl prometheus openssl clang libclang-rt-14-dev"
missing=()
for p in $PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 1
fi
echo "==> installing Debian packages: ${missing[*]}"
# no default cluster on port 5432: tests and demos make their own
mkdir -p /etc/postgresql-common
grep -qs '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
