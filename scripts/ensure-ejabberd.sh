#!/usr/bin/env bash
# Installs Debian's ejabberd when missing, for the ejabberd integration tests
# (test/integration/ejabberd.test.ts). The tests start their own throwaway
# ejabberd; this never configures or starts the system one.
set -euo pipefail
if [ -x /usr/sbin/ejabberdctl ] && command -v erl >/dev/null 2>&1; then
  exit 0
fi
exec bash "$(dirname "$0")/apt-install.sh" ejabberd
