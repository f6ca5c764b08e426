#!/usr/bin/env bash
# Installs Debian's ejabberd when missing, for the ejabberd integration tests
# (test/integration/ejabberd.test.ts). The tests start their own throwaway
# ejabberd; this never configures or starts the system one.
set -euo pipefail
if [ -x /usr/sbin/ejabberdctl ] && command -v erl >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ejabberd is not installed and this is not root: run 'apt-get install ejabberd' as root." >&2
    exit 1
  fi
fi
echo "Installing Debian's ejabberd..." >&2
export DEBIAN_FRONTEND=noninteractive
# The package's postinst would start the system ejabberd (ports 5222, 5269,
# 5280, ...). Where no policy-rc.d says otherwise, forbid that for this install.
POLICY=/usr/sbin/policy-rc.d
ADDED_POLICY=""
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  ADDED_POLICY=1
fi
cleanup() { if [ -n "$ADDED_POLICY" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends ejabberd >/dev/null
