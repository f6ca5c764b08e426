#!/usr/bin/env bash
# Installs Debian's PostgreSQL server when missing, for the store contract and
# leader election tests (test/harness/postgres.ts). The tests run their own
# throwaway cluster (initdb in a temp dir, a loopback port); this never
# configures or starts the system one (apt-install.sh forbids service starts).
set -euo pipefail
for bin in /usr/lib/postgresql/*/bin; do
  if [ -x "$bin/initdb" ] && [ -x "$bin/postgres" ]; then exit 0; fi
done
exec bash "$(dirname "$0")/apt-install.sh" postgresql
