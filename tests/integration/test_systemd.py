"""deploy/systemd: the unit passes systemd's own checks (systemd-analyze verify, with unknown keys
as errors, and systemd-analyze security --offline with a recorded threshold), its limits cover what
spliced needs, and the command line its ExecStart makes from spliced.env serves, turns /readyz 503
on SIGTERM and exits 0 within TimeoutStopSec."""
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import BIN, main, wait_for

SYSTEMD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "systemd")
UNIT = os.path.join(SYSTEMD, "spliced.service")
ENV = os.path.join(SYSTEMD, "spliced.env")
# systemd-analyze security's exposure (0-100; it prints a tenth of it: 1.1). Lower is safer;
# recorded here so that a change that loosens the sandbox fails.
EXPOSURE_THRESHOLD = 11


def analyze():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        raise unittest.SkipTest("needs systemd-analyze (Debian's systemd package)")
    return tool


def service_settings():
    """[Service] key -> list of values, in order."""
    settings, section = {}, None
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                settings.setdefault(key, []).append(value)
    return settings


def env_file():
    env = {}
    with open(ENV) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, value = line.split("=", 1)
                env[key] = value
    return env


def expand(command, env):
    """systemd's ExecStart expansion: ${VAR} is one word, $VAR splits on whitespace."""
    words = []
    for word in shlex.split(command):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            words += env.get(m.group(1), "").split()
        else:
            words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda g: env.get(g.group(1), ""),
                                word))
    return words


def seconds(value):
    m = re.fullmatch(r"(\d+)(ms|s|min)?", value)
    n = int(m.group(1))
    return {"ms": n / 1000, "s": n, None: n, "min": 60 * n}[m.group(2)]


class Analyze(unittest.TestCase):
    def setUp(self):
        self.tool = analyze()
        self.dir = tempfile.mkdtemp(prefix="spliced-unit-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def unit_for_the_build(self, extra=""):
        """The unit with ExecStart pointed at the binary under test."""
        with open(UNIT) as f:
            text = f.read().replace("/usr/local/bin/spliced", os.path.abspath(BIN))
        path = os.path.join(self.dir, "spliced.service")
        with open(path, "w") as f:
            f.write(text.replace("[Service]\n", "[Service]\n" + extra))
        return path

    def verify(self, path):
        r = subprocess.run([self.tool, "verify", "--man=no", path], capture_output=True,
                           text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def test_verify_passes_with_unknown_keys_as_errors(self):
        code, out = self.verify(self.unit_for_the_build())
        self.assertEqual(code, 0, out)
        self.assertEqual(out.strip(), "")  # no warning at all, "Unknown key" included

    def test_verify_would_see_an_unknown_key(self):
        _, out = self.verify(self.unit_for_the_build("LimitNOFILES=1\n"))
        self.assertIn("Unknown key", out)

    def test_security_exposure_is_within_the_recorded_threshold(self):
        path = self.unit_for_the_build()
        r = subprocess.run([self.tool, "security", "--offline=yes",
                            "--threshold=%d" % EXPOSURE_THRESHOLD, path],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)
        level = re.search(r"Overall exposure level for spliced.service: ([\d.]+)", r.stdout)
        self.assertLessEqual(float(level.group(1)) * 10, EXPOSURE_THRESHOLD)
        tighter = subprocess.run([self.tool, "security", "--offline=yes",
                                  "--threshold=%d" % (EXPOSURE_THRESHOLD - 1), path],
                                 capture_output=True, text=True, timeout=60)
        self.assertNotEqual(tighter.returncode, 0)  # the threshold is the unit's real level


class Settings(unittest.TestCase):
    def test_the_service_is_what_operators_expect(self):
        s = service_settings()
        self.assertEqual(s["Type"], ["exec"])
        self.assertEqual(s["DynamicUser"], ["yes"])
        self.assertEqual(s["KillSignal"], ["SIGTERM"])
        self.assertIn("@system-service", s["SystemCallFilter"])
        r = subprocess.run([analyze(), "syscall-filter", "@system-service"], capture_output=True,
                           text=True, timeout=60)
        self.assertIn("@aio", r.stdout)  # which holds io_uring_setup/enter/register
        aio = subprocess.run([analyze(), "syscall-filter", "@aio"], capture_output=True,
                             text=True, timeout=60).stdout
        for call in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
            self.assertIn(call, aio)
        self.assertFalse(any("@aio" in v or "io_uring" in v for v in s["SystemCallFilter"][1:]))

    def test_timeout_covers_the_drain_and_limits_cover_the_pools(self):
        s = service_settings()
        flags = expand("$SPLICED_FLAGS", env_file())
        delay = seconds(flags[flags.index("--drain-delay") + 1]) if "--drain-delay" in flags else 5
        timeout = seconds(flags[flags.index("--drain-timeout") + 1]) \
            if "--drain-timeout" in flags else 30
        self.assertGreater(seconds(s["TimeoutStopSec"][0]), delay + timeout)
        memlock = s["LimitMEMLOCK"][0]
        per_worker = 256 * ((256 << 10) + (16 << 10))  # the default pools, fully grown
        size = int(memlock[:-1]) << {"K": 10, "M": 20, "G": 30}[memlock[-1]]
        self.assertGreaterEqual(size, per_worker * (os.cpu_count() or 1))
        self.assertGreaterEqual(int(s["LimitNOFILE"][0]), 65536)


class ExecStart(unittest.TestCase):
    """What systemd would run, with the env file's values and the addresses on 127.0.0.1:0."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="spliced-test-")
        with open(os.path.join(self.root, "f.bin"), "wb") as f:
            self.data = os.urandom(1 << 20)
            f.write(self.data)

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def test_serves_and_stops_within_timeout_stop_sec(self):
        s = service_settings()
        env = env_file()
        env.update(SPLICED_ROOT=self.root, SPLICED_LISTEN="127.0.0.1:0",
                   SPLICED_METRICS_LISTEN="127.0.0.1:0")
        argv = expand(s["ExecStart"][0], env)
        self.assertEqual(argv[0], "/usr/local/bin/spliced")
        self.proc = subprocess.Popen([BIN] + argv[1:], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        port = metrics = None
        while port is None or metrics is None:
            line = self.proc.stdout.readline()
            if not line:
                self.fail("exited: " + self.proc.stderr.read())
            if line.startswith("listening on http://127.0.0.1:"):
                port = int(line.rsplit(":", 1)[1])
            elif line.startswith("metrics on http://127.0.0.1:"):
                metrics = int(line.rsplit(":", 1)[1].split("/")[0])
        with urllib.request.urlopen("http://127.0.0.1:%d/f.bin" % port, timeout=30) as r:
            self.assertEqual(r.read(), self.data)

        def ready():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % metrics, timeout=10):
                    return 200
            except urllib.error.HTTPError as e:
                return e.code

        self.assertEqual(ready(), 200)
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: ready() == 503, 5, "/readyz answering 503")
        with urllib.request.urlopen("http://127.0.0.1:%d/f.bin" % port, timeout=30) as r:
            self.assertEqual(r.read(), self.data)  # still served during --drain-delay
        self.assertEqual(self.proc.wait(seconds(s["TimeoutStopSec"][0])), 0)
        self.assertLess(time.monotonic() - start, seconds(s["TimeoutStopSec"][0]))


if __name__ == "__main__":
    main()
