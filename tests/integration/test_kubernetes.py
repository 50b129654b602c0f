"""deploy/kubernetes: the kustomize base renders with kubectl (no cluster reached), every object
passes the Kubernetes schemas offline (npm kubernetes-models) and a walk that rejects unknown
keys, and the invariants between the objects, spliced's flags and the other deploy/ files hold;
the flags in the Deployment start the real binary and its probes' paths answer there."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.request

from harness import BIN, main

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.join(HERE, "..", "..", "deploy")
BASE = os.path.join(DEPLOY, "kubernetes")
NODE_MODULES = os.path.join(HERE, "node_modules")


def render(base=BASE):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise unittest.SkipTest("needs kubectl (./dev test installs Debian's kubernetes-client)")
    version = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True,
                             env=dict(os.environ, KUBECONFIG=os.devnull)).stdout
    m = re.search(r"Kustomize Version: v(\d+)\.(\d+)", version)
    if not m or (int(m.group(1)), int(m.group(2))) < (4, 1):
        raise unittest.SkipTest("kubectl's kustomize is older than 4.1 (no `labels:`): %r"
                                % version.strip())
    with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig") as cfg:
        cfg.write("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
        cfg.flush()
        r = subprocess.run([kubectl, "kustomize", base], capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, KUBECONFIG=cfg.name))
    if r.returncode != 0:
        raise AssertionError("kubectl kustomize: " + r.stderr)
    return r.stdout, r.stderr


def validate(text):
    if shutil.which("node") is None or not os.path.isdir(os.path.join(NODE_MODULES,
                                                                      "kubernetes-models")):
        raise unittest.SkipTest("needs node and kubernetes-models (./dev test runs npm ci in "
                                "tests/integration)")
    r = subprocess.run(["node", os.path.join(HERE, "k8s_validate.js"), NODE_MODULES], input=text,
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("k8s_validate.js: " + r.stderr)
    return json.loads(r.stdout)


def flag(args, name):
    for a in args:
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    raise AssertionError("%s not in %r" % (name, args))


def seconds(value):
    m = re.fullmatch(r"(\d+)(ms|s|m)", value)
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


class Kustomize(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        text, cls.warnings = render()
        cls.result = validate(text)
        cls.objects = {o["kind"]: o for o in cls.result["objects"]}

    def test_renders_without_warnings_and_validates(self):
        self.assertEqual(self.warnings, "")
        self.assertEqual(self.result["errors"], [])
        self.assertEqual(sorted(self.objects), ["Deployment", "HorizontalPodAutoscaler",
                                                "PersistentVolumeClaim", "PodDisruptionBudget",
                                                "Service"])

    def test_the_checks_catch_a_wrong_type_and_an_unknown_key(self):
        text, _ = render()
        broken = text.replace("readOnlyRootFilesystem", "readOnlyRootFileSystem").replace(
            "failureThreshold: 6", 'failureThreshold: "six"')
        errors = validate(broken)["errors"]
        self.assertEqual(len(errors), 2, errors)
        self.assertTrue(any("readOnlyRootFileSystem: not a field" in e for e in errors), errors)
        self.assertTrue(any("failureThreshold must be integer" in e for e in errors), errors)

    def pod(self):
        return self.objects["Deployment"]["spec"]["template"]

    def container(self):
        return self.pod()["spec"]["containers"][0]

    def test_probes_and_ports_match_the_flags(self):
        c = self.container()
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(int(flag(c["args"], "--listen").rsplit(":", 1)[1]), ports["http"])
        self.assertEqual(int(flag(c["args"], "--metrics-listen").rsplit(":", 1)[1]),
                         ports["metrics"])
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "metrics"})
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "metrics"})
        service = self.objects["Service"]
        self.assertEqual({p["targetPort"] for p in service["spec"]["ports"]}, set(ports))

    def test_selectors_match_the_pods(self):
        labels = self.pod()["metadata"]["labels"]
        for selector in (self.objects["Service"]["spec"]["selector"],
                         self.objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
                         self.objects["Deployment"]["spec"]["selector"]["matchLabels"]):
            self.assertTrue(selector)
            self.assertLessEqual(selector.items(), labels.items())
        target = self.objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
        self.assertEqual((target["kind"], target["name"]),
                         ("Deployment", self.objects["Deployment"]["metadata"]["name"]))
        claim = self.pod()["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
        self.assertEqual(claim, self.objects["PersistentVolumeClaim"]["metadata"]["name"])

    def test_grace_period_covers_the_drain_and_liveness_outlasts_it(self):
        c = self.container()
        drain = seconds(flag(c["args"], "--drain-delay")) + seconds(flag(c["args"],
                                                                         "--drain-timeout"))
        pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        grace = self.pod()["spec"]["terminationGracePeriodSeconds"]
        self.assertGreaterEqual(grace, pre_stop + drain + 5)
        live = c["livenessProbe"]
        self.assertGreater(live["periodSeconds"] * live["failureThreshold"], drain)

    def test_hardened_with_the_shipped_seccomp_profile(self):
        spec = self.pod()["spec"]
        profile = spec["securityContext"]["seccompProfile"]
        self.assertEqual(profile["type"], "Localhost")
        self.assertTrue(os.path.exists(os.path.join(DEPLOY, "seccomp",
                                                    os.path.basename(profile["localhostProfile"]))))
        self.assertTrue(spec["securityContext"]["runAsNonRoot"])
        self.assertEqual(spec["securityContext"]["runAsUser"], 65534)
        sc = self.container()["securityContext"]
        self.assertEqual(sc["capabilities"], {"drop": ["ALL"]})
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertIn("requests", self.container()["resources"])

    def test_the_autoscaler_metric_is_the_recording_rule(self):
        hpa = self.objects["HorizontalPodAutoscaler"]
        names = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
        self.assertEqual(names, ["spliced_send_bytes_per_second"])
        with open(os.path.join(DEPLOY, "prometheus", "recording.yml")) as f:
            self.assertIn("record: spliced:send_bytes_per_second:rate1m", f.read())
        with open(os.path.join(BASE, "README.md")) as f:  # the adapter rule that maps the two
            readme = f.read()
        self.assertIn("spliced:send_bytes_per_second:rate1m", readme)
        self.assertIn("spliced_send_bytes_per_second", readme)

    def test_the_container_args_start_spliced_and_its_probe_paths_answer(self):
        args = [a for a in self.container()["args"]
                if not a.startswith(("--root=", "--listen=", "--metrics-listen="))]
        root = tempfile.mkdtemp(prefix="spliced-test-")
        p = subprocess.Popen([BIN, "--root=" + root, "--listen=127.0.0.1:0",
                              "--metrics-listen=127.0.0.1:0", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            metrics = None
            while metrics is None:
                line = p.stdout.readline()
                if not line:
                    self.fail("spliced refused the Deployment's flags: " + p.stderr.read())
                if line.startswith("metrics on http://127.0.0.1:"):
                    metrics = int(line.rsplit(":", 1)[1].split("/")[0])
            for probe in ("readinessProbe", "livenessProbe"):
                path = self.container()[probe]["httpGet"]["path"]
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (metrics, path),
                                            timeout=10) as r:
                    self.assertEqual(r.status, 200)
        finally:
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(30), 0)
            p.stdout.close()
            p.stderr.close()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
