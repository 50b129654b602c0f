"""deploy/container: the image build-image makes (nothing but spliced, its libraries and a
non-root user; an OCI layout built offline with umoci) runs under a real OCI runtime, crun, the
way a cluster runs it: read-only root, uid 65534, no capabilities, deploy/seccomp/spliced.json.
Downloads are byte-exact, /metrics is scraped, SIGTERM drains; without the profile's io_uring
lines it says why it cannot start."""
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

from harness import BIN, main, sanitized, wait_for, without_leak_check

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.join(HERE, "..", "..", "deploy")
BUILD_IMAGE = os.path.join(DEPLOY, "container", "build-image")
PROFILE = os.path.join(DEPLOY, "seccomp", "spliced.json")


def crun_command(*args):
    """crun, with one allowance for this machine: on a host with cgroups in hybrid mode whose v2
    hierarchy has a controller, crun refuses to start anything ("cgroups in hybrid mode not
    supported"); in a mount namespace of its own the v2 mount is taken away and crun runs without
    a cgroup manager. Elsewhere it is crun as is."""
    unified = "/sys/fs/cgroup/unified"
    controllers = ""
    if os.path.ismount(unified):
        with open(os.path.join(unified, "cgroup.controllers")) as f:
            controllers = f.read().strip()
    if controllers:
        return ["unshare", "--mount", "sh", "-c",
                'umount %s && exec crun --cgroup-manager=disabled "$@"' % unified, "crun", *args]
    return ["crun", *args]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Image(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [t for t in ("umoci", "crun", "unshare") if shutil.which(t) is None]
        if missing:
            raise unittest.SkipTest("needs %s (./dev test installs Debian's umoci and crun)"
                                    % ", ".join(missing))
        if os.geteuid() != 0:
            raise unittest.SkipTest("crun runs containers as root here (rootless needs a user "
                                    "namespace setup this suite does not make)")
        cls.work = tempfile.mkdtemp(prefix="spliced-image-")
        r = subprocess.run([BUILD_IMAGE, BIN, os.path.join(cls.work, "out")], capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError("build-image failed: " + r.stdout + r.stderr)
        cls.out = os.path.join(cls.work, "out")
        cls.size = int(re.search(r"build-image: (\d+) bytes", r.stdout).group(1))
        print("image: %d bytes of OCI layout (%.1f MiB)" % (cls.size, cls.size / 2**20),
              file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_the_image_holds_spliced_its_libraries_and_a_user_and_nothing_else(self):
        rootfs = os.path.join(self.out, "rootfs")
        files = sorted(os.path.relpath(os.path.join(d, f), rootfs)
                       for d, _, names in os.walk(rootfs) for f in names)
        self.assertIn("usr/bin/spliced", files)
        self.assertIn("etc/passwd", files)
        libs = [f for f in files if f not in ("usr/bin/spliced", "etc/passwd", "etc/group")]
        self.assertTrue(all(".so" in f for f in libs), libs)  # no shell, no tools
        self.assertTrue(any("liburing.so" in f for f in libs))
        self.assertLess(self.size, 32 << 20)
        with open(os.path.join(self.out, "image", "index.json")) as f:
            index = json.load(f)
        tags = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
        self.assertEqual(tags, ["spliced"])

    def bundle(self, name, profile):
        """The image unpacked by umoci as an OCI bundle, set up as a hardened runtime would."""
        bundle = os.path.join(self.work, name)
        subprocess.run(["umoci", "unpack", "--image", os.path.join(self.out, "image") + ":spliced",
                        bundle], check=True, capture_output=True, timeout=120)
        path = os.path.join(bundle, "config.json")
        with open(path) as f:
            c = json.load(f)
        self.assertEqual(c["process"]["user"], {"uid": 65534, "gid": 65534})
        self.assertEqual(c["process"]["args"][:3], ["/usr/bin/spliced", "--root", "/srv"])
        # Loopback only: the host's network (no network namespace), addresses picked by the kernel.
        c["process"]["args"] = ["/usr/bin/spliced", "--root", "/srv", "--listen", "127.0.0.1:0",
                                "--metrics-listen", "127.0.0.1:0", "--threads", "1",
                                "--drain-delay", "1s"]
        c["process"]["terminal"] = False
        if sanitized():
            c["process"]["env"].append("ASAN_OPTIONS=" + without_leak_check())
        c["process"]["noNewPrivileges"] = True
        c["process"]["capabilities"] = {k: [] for k in ("bounding", "effective", "inheritable",
                                                         "permitted", "ambient")}
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        memlock = min(resource.getrlimit(resource.RLIMIT_MEMLOCK)[1], 64 << 20)
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile},
                                   {"type": "RLIMIT_MEMLOCK", "hard": memlock, "soft": memlock}]
        c["root"]["readonly"] = True
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
        c["linux"]["seccomp"] = profile
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/sys/fs/cgroup"]
        for m in c["mounts"]:
            if m["destination"] == "/srv":
                m.update(source=self.srv, type="bind", options=["rbind", "ro"])
        with open(path, "w") as f:
            json.dump(c, f)
        return bundle

    def setUp(self):
        self.srv = tempfile.mkdtemp(prefix="spliced-srv-")
        os.chmod(self.srv, 0o755)
        self.data = os.urandom(5 << 20)
        with open(os.path.join(self.srv, "f.bin"), "wb") as f:
            f.write(self.data)
        os.chmod(os.path.join(self.srv, "f.bin"), 0o644)
        self.ids = []

    def tearDown(self):
        for cid in self.ids:
            subprocess.run(crun_command("kill", cid, "KILL"), capture_output=True)
            subprocess.run(crun_command("delete", "--force", cid), capture_output=True)
        shutil.rmtree(self.srv, ignore_errors=True)

    def run_container(self, bundle):
        cid = "spliced-test-%d-%d" % (os.getpid(), len(self.ids))
        self.ids.append(cid)
        proc = subprocess.Popen(crun_command("run", "--bundle", bundle, cid),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return cid, proc

    def test_serves_scrapes_and_drains_under_crun_with_the_profile(self):
        with open(PROFILE) as f:
            profile = json.load(f)
        cid, proc = self.run_container(self.bundle("serve", profile))
        port = metrics = None
        while port is None or metrics is None:
            line = proc.stdout.readline()
            if not line:
                self.fail("the container exited: " + proc.stderr.read())
            if line.startswith("listening on http://127.0.0.1:"):
                port = int(line.rsplit(":", 1)[1])
            elif line.startswith("metrics on http://127.0.0.1:"):
                metrics = int(line.rsplit(":", 1)[1].split("/")[0])
        base = "http://127.0.0.1:%d" % port
        self.assertEqual(get(base + "/f.bin"), (200, self.data))
        req = urllib.request.Request(base + "/f.bin", headers={"Range": "bytes=1000-1999"})
        with urllib.request.urlopen(req, timeout=30) as r:
            self.assertEqual((r.status, r.read()), (206, self.data[1000:2000]))
        code, text = get("http://127.0.0.1:%d/metrics" % metrics)
        self.assertEqual(code, 200)
        self.assertIn(b'spliced_requests_total{code="206",method="GET"} 1', text)
        state = json.loads(subprocess.run(crun_command("state", cid), capture_output=True,
                                          text=True, check=True).stdout)
        with open("/proc/%d/status" % state["pid"]) as f:
            status = dict(line.split(":", 1) for line in f)
        self.assertEqual(status["Uid"].split()[:2], ["65534", "65534"])
        self.assertEqual(status["CapEff"].strip(), "0000000000000000")
        self.assertEqual(status["Seccomp"].strip(), "2")
        subprocess.run(crun_command("kill", cid, "TERM"), check=True, timeout=30)
        wait_for(lambda: get("http://127.0.0.1:%d/readyz" % metrics)[0] == 503, 5,
                 "/readyz answering 503")
        self.assertEqual(proc.wait(30), 0)
        err = proc.stderr.read()
        self.assertIn("SIGTERM: /readyz is 503", err)
        proc.stdout.close()
        proc.stderr.close()

    def test_without_io_uring_in_the_profile_it_says_why(self):
        with open(PROFILE) as f:
            profile = json.load(f)
        for rule in profile["syscalls"]:
            rule["names"] = [n for n in rule["names"] if not n.startswith("io_uring_")]
        cid, proc = self.run_container(self.bundle("refused", profile))
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1, err)
        self.assertEqual(out, "")
        self.assertIn("a seccomp filter refuses io_uring", err)
        self.assertIn("see deploy/seccomp/", err)


if __name__ == "__main__":
    main()
