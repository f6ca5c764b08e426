#!/usr/bin/env bash
# Installs Debian's Prosody (and prosody-modules, for the benchmark's
# mod_unified_push) when missing. The tests and the demo start their own
# throwaway Prosody; this never configures or starts the system one.
set -euo pipefail
if command -v prosody >/dev/null 2>&1 && [ -d /usr/lib/prosody/modules/mod_unified_push ]; then
  exit 0
fi
exec bash "$(dirname "$0")/apt-install.sh" prosody prosody-modules
