#!/usr/bin/env bash
# Installs the Debian packages the tests use, if they are missing and we are allowed to.
set -u
pkgs=()
# command:package; Debian bookworm ships Pd's command-line binary in puredata-core. cmake and
# g++ build the C++ host (export/cpp), whose test proves it answers as Python does.
for pair in "oscsend:liblo-tools" "pd:puredata-core" "node:nodejs" "espeak-ng:espeak-ng" "sox:sox" \
            "cmake:cmake" "g++:g++"; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || pkgs+=("$pkg")
done
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: missing ${pkgs[*]}; install them with apt-get to run every end-to-end test" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null \
  || echo "note: could not install ${pkgs[*]}; the tests that need them will skip" >&2
exit 0
