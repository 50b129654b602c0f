"""A TCP relay between a download client and an HTTP origin on 127.0.0.1 that injects the faults a
real network and real middleboxes produce: a slow link, a connection reset or closed after N bytes,
response heads rewritten (a wrong Content-Range, a forged Repr-Digest), Range stripped from
requests (an origin or cache that ignores ranges). Each client connection gets its own upstream
connection and two pump threads; close() stops them all."""
import socket
import struct
import threading
import time


def _split_head(data):
    end = data.find(b"\r\n\r\n")
    return (None, data) if end < 0 else (data[:end + 4], data[end + 4:])


def _content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


class FaultProxy:
    """`rate`: bytes/s from origin to client (None: as fast as possible).
    `fault`: None, "reset" or "close"; applied to the `fault_connection`-th client connection
    (1-based) once `fault_after` bytes of responses went to it; with `fault_connection=0`, to the
    first connection of any number to get that far (one fault in all: a client's later or
    slower connections may never carry that many bytes).
    `rewrite_response(head, connection, index) -> head` and `rewrite_request(head) -> head` edit
    whole heads (index: the response's number on its connection, from 0)."""

    def __init__(self, upstream_port, rate=None, fault=None, fault_connection=1, fault_after=0,
                 rewrite_response=None, rewrite_request=None):
        self.upstream = upstream_port
        self.rate, self.fault = rate, fault
        self.fault_connection, self.fault_after = fault_connection, fault_after
        self.rewrite_response, self.rewrite_request = rewrite_response, rewrite_request
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.connections = 0
        self.faults_done = 0
        self.bytes_to_client = 0  # response bytes relayed, heads included
        self.sockets = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def _accept(self):
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:  # the origin is down: the client sees a reset
                self._reset(client)
                continue
            with self.lock:
                self.connections += 1
                number = self.connections
                self.sockets += [client, server]
            for target, args in ((self._requests, (client, server)),
                                 (self._responses, (server, client, number))):
                t = threading.Thread(target=target, args=args, daemon=True)
                t.start()
                self.threads.append(t)

    @staticmethod
    def _reset(sock):
        """Sends an RST. The other pump thread may be blocked in recv() on this socket, which
        keeps the kernel's socket alive past close(): SHUT_RD wakes it first (and, unlike SHUT_WR,
        sends no FIN), so the last reference goes at once and with it, lingering 0, the RST."""
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        sock.close()

    def _requests(self, client, server):
        pending = b""
        try:
            while not self.stopped.is_set():
                data = client.recv(65536)
                if not data:
                    break
                if not self.rewrite_request:
                    server.sendall(data)
                    continue
                pending += data
                while True:  # requests carry no bodies: a head ends each one
                    head, rest = _split_head(pending)
                    if head is None:
                        break
                    server.sendall(self.rewrite_request(head))
                    pending = rest
        except OSError:
            pass
        self._shut(client, server)

    def _responses(self, server, client, number):
        faulty = self.fault and self.fault_connection in (number, 0)
        sent, index, pending, body_left = 0, 0, b"", 0
        try:
            while not self.stopped.is_set():
                data = server.recv(16384)
                if not data:
                    break
                out = b""
                if self.rewrite_response:
                    pending += data
                    while pending:
                        if body_left:
                            take = pending[:body_left]
                            out, pending, body_left = out + take, pending[len(take):], body_left - len(take)
                            continue
                        head, rest = _split_head(pending)
                        if head is None:
                            break
                        out += self.rewrite_response(head, number, index)
                        index += 1
                        pending, body_left = rest, _content_length(head)
                else:
                    out = data
                if faulty and sent + len(out) >= self.fault_after:
                    with self.lock:  # with fault_connection 0, only the first to get here
                        faulty = self.fault_connection != 0 or self.faults_done == 0
                        self.faults_done += faulty
                if faulty and sent + len(out) >= self.fault_after:
                    client.sendall(out[:max(0, self.fault_after - sent)])
                    if self.fault == "reset":
                        self._reset(client)
                    else:
                        client.shutdown(socket.SHUT_RDWR)
                    break
                client.sendall(out)
                sent += len(out)
                with self.lock:
                    self.bytes_to_client += len(out)
                if self.rate:
                    time.sleep(len(out) / self.rate)  # pacing the link, not synchronisation
        except OSError:
            pass
        self._shut(server, client)

    @staticmethod
    def _shut(*socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stopped.set()
        self._shut(self.listener)  # wakes the accept() in progress (closing alone does not)
        self.listener.close()
        with self.lock:
            socks = list(self.sockets)
        self._shut(*socks)
        for t in self.threads:
            t.join(10)
        for s in socks:
            s.close()
