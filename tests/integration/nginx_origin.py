"""A real nginx serving a directory on 127.0.0.1, as a second origin for spliced-get: another
server's ETags (size and mtime in seconds), Range handling and keep-alive rules. One foreground
process (master_process off), stopped by PID. nginx cannot listen on port 0, so a free port is
picked by binding port 0 first; if another process takes it meanwhile, nginx fails to bind and
the next port is tried."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

CONF = """
daemon off;
master_process off;
worker_processes 1;
pid %(work)s/nginx.pid;
error_log %(work)s/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    default_type application/octet-stream;
    client_body_temp_path %(work)s/body;
    proxy_temp_path %(work)s/proxy;
    fastcgi_temp_path %(work)s/fastcgi;
    uwsgi_temp_path %(work)s/uwsgi;
    scgi_temp_path %(work)s/scgi;
%(body)s
}
"""

ORIGIN = """
    server {
        listen 127.0.0.1:%(port)d;
        root %(root)s;
    }
"""


def available():
    return shutil.which("nginx") is not None


class Nginx:
    """`body`: what goes in http { } beside the temp paths, with %(port)d (the port to listen on),
    %(work)s (nginx's own directory) and %(root)s; by default a static server of `root`."""

    def __init__(self, root, body=ORIGIN):
        self.work = tempfile.mkdtemp(prefix="spliced-nginx-")
        for _ in range(10):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            conf = os.path.join(self.work, "nginx.conf")
            with open(conf, "w") as f:
                values = {"work": self.work, "root": root, "port": self.port}
                f.write(CONF % dict(values, body=body % values))
            self.proc = subprocess.Popen(["nginx", "-p", self.work, "-c", conf,
                                          "-e", os.path.join(self.work, "error.log")],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._ready():
                return
            self.stop()
            if "Address already in use" not in self._log():
                raise RuntimeError("nginx did not start: " + self._log())
        raise RuntimeError("nginx found no free port")

    def _ready(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.02)  # polling for the listener, bounded by the deadline
        return False

    def _log(self):
        try:
            with open(os.path.join(self.work, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)
