#!/usr/bin/env bash
# Installs Debian's Prosody (and prosody-modules, for the benchmark's
# mod_unified_push) when missing. The tests and the demo start their own
# throwaway Prosody; this never configures or starts the system one.
set -euo pipefail
if command -v prosody >/dev/null 2>&1 && [ -d /usr/lib/prosody/modules/mod_unified_push ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Prosody is not installed and this is not root: run 'apt-get install prosody prosody-modules' as root." >&2
    exit 1
  fi
fi
echo "Installing Debian's prosody and prosody-modules..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prosody prosody-modules >/dev/null
