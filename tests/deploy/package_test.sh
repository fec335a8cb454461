#!/usr/bin/env bash
# Builds the two Debian packages with CPack in BUILD_DIR and installs them on this machine with
# apt-get, as an operator would: files in FHS places, the system users, units systemd accepts,
# binaries that run; then purges them and checks nothing of theirs is left but the system users
# (Debian packages leave those). scripts/test runs it (ctest deploy_package_install); it exits 77
# (skipped), saying why, where it may not install packages or where vpsfleet is installed for real.
#   package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?build directory}" && pwd)
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo -n true 2>/dev/null || { echo "SKIP: installing packages needs root or passwordless sudo"; exit 77; }
  sudo="sudo -n"
fi
for p in vpsfleet-coordinator vpsfleet-agent; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    echo "SKIP: $p is installed on this machine; the test would purge it"
    exit 77
  fi
done

out=$(mktemp -d "${TMPDIR:-/tmp}/vpsfleet-deb.XXXXXX")
trap 'rm -rf "$out"' EXIT
(cd "$build" && cpack -G DEB -B "$out" >/dev/null)
coordinator=$(ls "$out"/vpsfleet-coordinator_*.deb)
agent=$(ls "$out"/vpsfleet-agent_*.deb)

contents=$(dpkg-deb -c "$coordinator"; dpkg-deb -c "$agent")
for f in ./usr/bin/vpsfleet-coordinator ./usr/bin/vpsfleet-agent \
         ./usr/lib/systemd/system/vpsfleet-coordinator.service ./usr/lib/systemd/system/vpsfleet-agent.service \
         ./usr/share/doc/vpsfleet-coordinator/examples/coordinator.example.yaml \
         ./usr/share/doc/vpsfleet-agent/examples/agent.example.yaml \
         ./usr/share/doc/vpsfleet-coordinator/examples/prometheus/vpsfleet.rules.yml; do
  grep -q " $f\$" <<<"$contents" || { echo "FAIL: $f is not in the packages"; exit 1; }
done

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq "$coordinator" "$agent" >/dev/null
cleanup() {
  $sudo apt-get purge -y -qq vpsfleet-coordinator vpsfleet-agent >/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT
id vpsfleet >/dev/null && id vpsfleet-agent >/dev/null
/usr/bin/vpsfleet-coordinator --version
/usr/bin/vpsfleet-agent --version
/usr/bin/vpsfleet-coordinator check-config \
  --config /usr/share/doc/vpsfleet-coordinator/examples/coordinator.example.yaml
/usr/bin/vpsfleet-agent check-config --config /usr/share/doc/vpsfleet-agent/examples/agent.example.yaml
systemd-analyze verify --man=no /usr/lib/systemd/system/vpsfleet-coordinator.service \
  /usr/lib/systemd/system/vpsfleet-agent.service

trap 'rm -rf "$out"' EXIT
$sudo apt-get purge -y -qq vpsfleet-coordinator vpsfleet-agent >/dev/null
for f in /usr/bin/vpsfleet-coordinator /usr/bin/vpsfleet-agent \
         /usr/lib/systemd/system/vpsfleet-coordinator.service /usr/lib/systemd/system/vpsfleet-agent.service \
         /usr/share/doc/vpsfleet-coordinator /usr/share/doc/vpsfleet-agent; do
  [ ! -e "$f" ] || { echo "FAIL: $f is left after purge"; exit 1; }
done
echo "ok: both packages install, their binaries and units work, and purge removes them"
