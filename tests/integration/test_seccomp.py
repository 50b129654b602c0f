"""Where io_uring is refused (a container runtime's default seccomp profile, the
kernel.io_uring_disabled sysctl), spliced and spliced-get say why and what fixes it in one line and
exit 1, and nothing answers /readyz. The filters are real seccomp filters loaded by libseccomp
(tests/integration/seccomp_exec.py, Debian's python3-seccomp); deploy/seccomp/spliced.json is an
OCI profile whose every syscall name libseccomp resolves."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, Server, main, sanitized, without_leak_check

HERE = os.path.dirname(os.path.abspath(__file__))
GET = os.environ.get("SPLICED_GET_BIN")
PROFILE = os.path.join(HERE, "..", "..", "deploy", "seccomp", "spliced.json")
SYSTEM_PYTHON = "/usr/bin/python3"  # where Debian's python3-seccomp is importable
URING_CALLS = {"io_uring_setup", "io_uring_enter", "io_uring_register"}


def have_seccomp_binding():
    return os.path.exists(SYSTEM_PYTHON) and subprocess.run(
        [SYSTEM_PYTHON, "-c", "import seccomp"], capture_output=True).returncode == 0


class Refused(unittest.TestCase):
    def setUp(self):
        if not have_seccomp_binding():
            self.skipTest("needs Debian's python3-seccomp for /usr/bin/python3 "
                          "(./dev test installs it)")
        self.root = tempfile.mkdtemp(prefix="spliced-test-")

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def under_filter(self, errno_name, *cmd):
        return subprocess.run([SYSTEM_PYTHON, os.path.join(HERE, "seccomp_exec.py"), errno_name,
                               *cmd], capture_output=True, text=True, timeout=30, cwd=self.root)

    def test_spliced_names_the_filter_and_the_profile_and_never_gets_ready(self):
        for errno_name, text in (("EPERM", "Operation not permitted"),
                                 ("ENOSYS", "Function not implemented")):
            with self.subTest(errno=errno_name):
                r = self.under_filter(errno_name, BIN, "--root", self.root, "--listen",
                                      "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertEqual(r.stdout, "")  # no readiness line: nothing was served
                lines = r.stderr.splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn("io_uring setup (worker 0): " + text, lines[0])
                self.assertIn("Seccomp: 2 in /proc/self/status", lines[0])
                self.assertIn("allow io_uring_setup/enter/register: see deploy/seccomp/", lines[0])

    def test_spliced_get_says_the_same(self):
        if not GET:
            self.skipTest("SPLICED_GET_BIN is not set")
        r = self.under_filter("ENOSYS", GET, "http://127.0.0.1:1/f", "-o", "f")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("io_uring refused: Function not implemented", r.stderr)
        self.assertIn("see deploy/seccomp/", r.stderr)
        self.assertEqual(os.listdir(self.root), [])  # nothing created


class Profile(unittest.TestCase):
    """deploy/seccomp/spliced.json: the OCI runtime spec's LinuxSeccomp object."""

    def setUp(self):
        with open(PROFILE) as f:
            self.profile = json.load(f)

    def allowed(self):
        names = set()
        for rule in self.profile["syscalls"]:
            if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args"):
                names.update(rule["names"])
        return names

    def test_refuses_by_default_and_allows_io_uring(self):
        self.assertEqual(self.profile["defaultAction"], "SCMP_ACT_ERRNO")
        self.assertIn("SCMP_ARCH_X86_64", self.profile["architectures"])
        self.assertLessEqual(URING_CALLS, self.allowed())

    def test_every_name_resolves(self):
        resolver = shutil.which("scmp_sys_resolver")
        if resolver is None:
            self.skipTest("needs scmp_sys_resolver (Debian's seccomp package; ./dev test installs it)")
        names = sorted({n for rule in self.profile["syscalls"] for n in rule["names"]})
        unknown = []
        for name in names:
            r = subprocess.run([resolver, "-a", "x86_64", name], capture_output=True, text=True)
            if r.returncode != 0 or not r.stdout.strip().lstrip("-").isdigit() or \
                    int(r.stdout) < 0:
                unknown.append(name)
        self.assertEqual(unknown, [])


class UnderProfile(unittest.TestCase):
    """The profile loaded as a runtime would load it: spliced serves, scrapes and drains under it,
    and the same profile without its three io_uring lines gets the seccomp message."""

    def setUp(self):
        if not have_seccomp_binding():
            self.skipTest("needs Debian's python3-seccomp for /usr/bin/python3 "
                          "(./dev test installs it)")
        self.root = tempfile.mkdtemp(prefix="spliced-test-")
        self.saved_asan = os.environ.get("ASAN_OPTIONS")
        if sanitized():
            os.environ["ASAN_OPTIONS"] = without_leak_check()
        self.data = os.urandom(3 << 20)
        with open(os.path.join(self.root, "f.bin"), "wb") as f:
            f.write(self.data)

    def tearDown(self):
        if self.saved_asan is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = self.saved_asan
        shutil.rmtree(self.root, ignore_errors=True)

    def wrapper(self, *extra):
        return [SYSTEM_PYTHON, os.path.join(HERE, "seccomp_exec.py"), "--profile", PROFILE, *extra]

    def test_serves_under_the_profile(self):
        for tier in ("splice", "copy"):
            with self.subTest(tier=tier):
                server = Server(self.root, "--transfer", tier, prefix=self.wrapper())
                try:
                    code, _, body = server.get("/f.bin")
                    self.assertEqual((code, body == self.data), (200, True))
                    code, _, part = server.get("/f.bin", headers={"Range": "bytes=100-199"})
                    self.assertEqual((code, part), (206, self.data[100:200]))
                    m = server.metrics_when(lambda m: m.get(
                        'spliced_requests_total{code="206",method="GET"}', 0) == 1)
                    self.assertGreater(m["spliced_sqes_submitted_total"], 0)
                finally:
                    code, err = server.stop()
                self.assertEqual(code, 0, err)

    def test_without_its_io_uring_lines_the_refusal_is_explained(self):
        r = subprocess.run(self.wrapper("--without-io-uring") + [
            BIN, "--root", self.root, "--listen", "127.0.0.1:0", "--metrics-listen", "off"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Operation not permitted: a seccomp filter refuses io_uring", r.stderr)


if __name__ == "__main__":
    main()
