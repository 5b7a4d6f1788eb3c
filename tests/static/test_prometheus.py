#!/usr/bin/env python3
"""promtool on the shipped Prometheus files, and what the rules query.

`promtool check config` must pass on infra/prometheus/prometheus.yml (which
loads alerts.yml, so the rules are checked with it) and on the copy
scripts/monitoring writes for the local runner; `promtool check rules` on
infra/prometheus/alerts.yml. Every tb_* metric a rule uses is one the code
exports, and the rules cover a service down, error rates, order rejections
and tick lag.

Run by ctest (label unit) as `python3 tests/static/test_prometheus.py`;
needs promtool (Debian package prometheus, installed by scripts/setup).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

ROOT = os.environ.get("TB_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
PROM = os.path.join(ROOT, "infra", "prometheus")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_compose import exported_metrics  # noqa: E402


def promtool(*args):
    exe = shutil.which("promtool")
    if exe is None:
        raise AssertionError("promtool not found: run scripts/setup (Debian package prometheus)")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


class Promtool(unittest.TestCase):
    def test_check_config(self):
        r = promtool("check", "config", os.path.join(PROM, "prometheus.yml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("1 rule files found", r.stdout + r.stderr)

    def test_check_rules(self):
        r = promtool("check", "rules", os.path.join(PROM, "alerts.yml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_check_fails_on_a_broken_rule(self):
        """Not vacuous: promtool refuses a rule with a bad expression."""
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.yml")
            with open(bad, "w") as f:
                f.write("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(\n")
            self.assertNotEqual(promtool("check", "rules", bad).returncode, 0)

    def test_local_copy_of_scripts_monitoring(self):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, TB_DATA_DIR=d, GATEWAY_PORT="18999", TB_PROMETHEUS_PORT="19999")
            r = subprocess.run([os.path.join(ROOT, "scripts", "monitoring"), "config"],
                               capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            path = r.stdout.strip()
            with open(path, encoding="utf-8") as f:
                conf = yaml.safe_load(f)
            targets = [t for job in conf["scrape_configs"] for sc in job["static_configs"]
                       for t in sc["targets"]]
            self.assertEqual(targets, ["127.0.0.1:18999", "127.0.0.1:19999"])
            r = promtool("check", "config", path)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class Rules(unittest.TestCase):
    def test_rules_query_exported_metrics(self):
        metrics = exported_metrics()
        with open(os.path.join(PROM, "alerts.yml"), encoding="utf-8") as f:
            rules = yaml.safe_load(f)
        names = []
        for g in rules["groups"]:
            for rule in g["rules"]:
                names.append(rule["alert"])
                for m in re.findall(r"\b(tb_[a-z0-9_]+)", rule["expr"]):
                    self.assertIn(m, metrics, "%s: no code exports %s" % (rule["alert"], m))
        for want in ("TradebusServiceDown", "TradebusGatewayDown", "TradebusHandlerErrorRate",
                     "TradebusApiErrorRate", "TradebusOrderRejections", "TradebusTickLag"):
            self.assertIn(want, names)


if __name__ == "__main__":
    unittest.main(verbosity=2)
