#!/usr/bin/env bash
# Checks systemd/*.service the way systemd would read them: `systemd-analyze verify` (unknown or
# misspelt directives, bad values, missing executables) and `systemd-analyze security --offline`,
# whose exposure score must stay at or under the figure in systemd_exposure_ceilings.txt.
# Neither needs systemd as PID 1. Exits 77 (skipped) when systemd-analyze is not installed.
#   systemd_units_test.sh COORDINATOR_BIN AGENT_BIN
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
units=$here/../../systemd
coordinator_bin=${1:?coordinator binary}
agent_bin=${2:?agent binary}

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIPPED: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vpsfleet-units.XXXXXX")
trap 'rm -rf "$work"' EXIT

failed=0
# verify wants every ExecStart= binary to exist; the units name their installed paths, so the
# copies checked here point at the binaries just built.
sed "s#/usr/bin/vpsfleet-coordinator#$coordinator_bin#g" "$units/vpsfleet-coordinator.service" \
  > "$work/vpsfleet-coordinator.service"
sed "s#/usr/bin/vpsfleet-agent#$agent_bin#g" "$units/vpsfleet-agent.service" \
  > "$work/vpsfleet-agent.service"
for unit in vpsfleet-coordinator.service vpsfleet-agent.service; do
  if out=$(systemd-analyze verify --man=no "$work/$unit" 2>&1) && [ -z "$out" ]; then
    echo "ok: systemd-analyze verify $unit"
  else
    echo "FAIL: systemd-analyze verify $unit:"
    echo "$out"
    failed=1
  fi
done

while read -r unit ceiling; do
  case "$unit" in ''|'#'*) continue ;; esac
  report=$(systemd-analyze security --offline=yes "$units/$unit" 2>&1) || true
  score=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  if [ -z "$score" ]; then
    echo "FAIL: no exposure score for $unit:"
    echo "$report"
    failed=1
  elif awk -v s="$score" -v c="$ceiling" 'BEGIN { exit !(s > c) }'; then
    echo "FAIL: $unit exposure $score is above its recorded ceiling $ceiling:"
    printf '%s\n' "$report" | grep '✗' || true
    failed=1
  else
    echo "ok: $unit exposure $score (ceiling $ceiling)"
  fi
done < "$here/systemd_exposure_ceilings.txt"

exit $failed
