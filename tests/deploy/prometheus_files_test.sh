#!/usr/bin/env bash
# Checks deploy/: the scrape configuration and alert rules with promtool (check config, check
# rules, and the rules' unit tests in vpsfleet.rules.test.yml), and the Grafana dashboard as JSON
# whose panels query only vpsfleet series the rules know too. Exits 77 (skipped) without promtool.
set -euo pipefail
deploy=$(cd "$(dirname "$0")/../../deploy" && pwd)

if ! command -v promtool >/dev/null; then
  echo "SKIPPED: promtool is not installed (Debian package prometheus)"
  exit 77
fi

cd "$deploy/prometheus"
# The file_sd file exists only on a deployed Prometheus; its absence is a warning, not an error.
promtool check config prometheus.yml
promtool check rules vpsfleet.rules.yml
promtool test rules vpsfleet.rules.test.yml

dashboard=$deploy/grafana/vpsfleet-fleet.json
python3 -m json.tool "$dashboard" >/dev/null
# Every vpsfleet_* series the dashboard or the rules name must be one the daemons export, so a
# renamed metric cannot leave an alert that never fires.
python3 - "$deploy/.." "$dashboard" vpsfleet.rules.yml <<'PY'
import json, pathlib, re, sys
root = pathlib.Path(sys.argv[1])
source = "".join(p.read_text() for d in ("common", "coordinator", "agent")
                 for p in (root / d).rglob("*.cpp"))
def exported(name):
    base = re.sub(r"_(bucket|count|sum)$", "", name)
    if f'"{base}"' in source or f'"{name}"' in source:
        return True
    # common/metrics.cpp builds the HTTP and build_info families from each daemon's prefix.
    m = re.match(r"^(vpsfleet_coordinator|vpsfleet_agent)(_.+)$", base)
    return bool(m) and f'"{m.group(2)}"' in source
board = json.load(open(sys.argv[2]))
exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
assert board["title"] and len(exprs) > 10, "a dashboard with its queries"
rules = open(sys.argv[3]).read()
missing = sorted({n for text in exprs + [rules]
                  for n in re.findall(r"\bvpsfleet_[A-Za-z0-9_:]+", text)
                  if not n.endswith("_") and not exported(n)})
if missing:
    sys.exit("series nothing exports: " + ", ".join(missing))
print(f"ok: dashboard has {len(board['panels'])} panels and {len(exprs)} queries; every vpsfleet series named is exported")
PY
echo "ok: deploy/prometheus and deploy/grafana"
