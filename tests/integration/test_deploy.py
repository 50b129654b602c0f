"""deploy/: the Prometheus configuration and alert rules pass promtool (syntax and rule unit tests),
and the Grafana dashboard asks only for metrics spliced really exports."""
import json
import os
import re
import shutil
import subprocess
import unittest

from harness import ServerTest, main

DEPLOY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy")
PROMETHEUS = os.path.join(DEPLOY, "prometheus")


def promtool(*args):
    tool = shutil.which("promtool")
    if tool is None:
        raise AssertionError("promtool is missing: ./dev test installs Debian's prometheus package")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


class Promtool(unittest.TestCase):
    def test_scrape_config_is_valid(self):
        r = promtool("check", "config", os.path.join(PROMETHEUS, "scrape.yml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_alert_rules_are_valid(self):
        r = promtool("check", "rules", os.path.join(PROMETHEUS, "alerts.yml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS: 5 rules found", r.stdout)

    def test_recording_rule_computes_bytes_per_second_per_pod(self):
        r = promtool("check", "rules", os.path.join(PROMETHEUS, "recording.yml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = promtool("test", "rules", os.path.join(PROMETHEUS, "recording_test.yml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_alerts_fire_on_what_they_are_for(self):
        r = promtool("test", "rules", os.path.join(PROMETHEUS, "alerts_test.yml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


def exported_names(server):
    """Metric names a scrape shows once a request has been counted (requests_total has series
    only after the first one)."""
    m = server.metrics_when(lambda m: any(k.startswith("spliced_requests_total{") for k in m))
    return {re.sub(r"_(bucket|count|sum)$", "", key.split("{")[0]) for key in m}


def metric_names(expr):
    """spliced_* and process_* names in a PromQL expression, with histogram suffixes taken off."""
    return {re.sub(r"_(bucket|count|sum)$", "", n)
            for n in re.findall(r"\b(?:spliced|process)_[a-z_]+", expr)}


class Dashboard(ServerTest):
    def populate(self, root):
        self.write("a.txt", b"hello")

    def test_every_query_names_an_exported_metric(self):
        with open(os.path.join(DEPLOY, "grafana", "spliced.json")) as f:
            dashboard = json.load(f)
        self.assertEqual(self.server.get("/a.txt")[0], 200)
        exported = exported_names(self.server)
        queried = set()
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                queried |= metric_names(target["expr"])
        for var in dashboard["templating"]["list"]:
            if isinstance(var.get("query"), dict):
                queried |= metric_names(var["query"]["query"])
        self.assertGreater(len(queried), 10)
        self.assertEqual(queried - exported, set())

    def test_alert_rules_name_exported_metrics(self):
        with open(os.path.join(PROMETHEUS, "alerts.yml")) as f:
            names = metric_names(f.read())
        self.assertEqual(self.server.get("/a.txt")[0], 200)
        self.assertEqual(names - exported_names(self.server), set())


if __name__ == "__main__":
    main()
