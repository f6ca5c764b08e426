#!/usr/bin/env bash
# apt-install.sh PACKAGE...: installs Debian packages for the tests, the demo
# and the bench, as root or through sudo, without starting their system
# services (a policy-rc.d that forbids it, only where none exists): the tests
# start their own throwaway servers on free loopback ports.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "$* not installed and this is not root: run 'apt-get install $*' as root." >&2
    exit 1
  fi
fi
echo "Installing Debian's $*..." >&2
export DEBIAN_FRONTEND=noninteractive
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
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
