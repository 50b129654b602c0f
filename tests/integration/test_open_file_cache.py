"""The open-file cache (DESIGN.md §6): hits skip OPENAT2 and STATX, expired entries are checked with
one STATX, files replaced or changed are reopened, and eviction under churn never serves the wrong
file or pulls one from under a transfer."""
import os
import random
import threading
import time

from harness import ServerTest, main, offset_pattern, paused_download, read_exactly


def op_count(m, op):
    return m.get('spliced_completion_latency_seconds_count{op="%s"}' % op, 0)


def cache_counts(m):
    return (m.get("spliced_open_file_cache_hits_total", 0),
            m.get("spliced_open_file_cache_misses_total", 0))


class CacheTest(ServerTest):
    threads = 1  # one worker, one cache: every request below meets the same entries

    def fetch(self, conn, path):
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("ETag"), r.read()

    def settled(self, before, hits=0, misses=0):
        """Metrics once the cache counters moved by (hits, misses) since `before`."""
        want = (before[0] + hits, before[1] + misses)
        return self.server.metrics_when(lambda m: cache_counts(m) >= want)


class Hits(CacheTest):
    server_args = ("--open-file-cache-valid", "1h")

    def populate(self, root):
        self.write("a.txt", b"cached bytes\n")

    def test_second_request_is_a_hit_without_openat_or_statx(self):
        conn = self.server.http()
        before = self.settled((0, 0))
        self.assertEqual(self.fetch(conn, "/a.txt")[2], b"cached bytes\n")
        after_miss = self.settled(cache_counts(before), misses=1)
        self.assertEqual(cache_counts(after_miss), (0, 1))
        self.assertEqual(op_count(after_miss, "openat"), 1)

        for _ in range(5):
            status, _, body = self.fetch(conn, "/a.txt")
            self.assertEqual((status, body), (200, b"cached bytes\n"))
        after_hits = self.settled(cache_counts(after_miss), hits=5)
        self.assertEqual(cache_counts(after_hits), (5, 1))
        self.assertEqual(op_count(after_hits, "openat"), op_count(after_miss, "openat"))
        self.assertEqual(op_count(after_hits, "statx"), op_count(after_miss, "statx"))
        conn.close()

    def test_missing_files_and_directories_are_not_cached(self):
        conn = self.server.http()
        for _ in range(2):
            self.assertEqual(self.fetch(conn, "/nope")[0], 404)
        m = self.settled((0, 0), misses=2)
        self.assertEqual(cache_counts(m), (0, 2))
        conn.close()


class Revalidation(CacheTest):
    WINDOW = 0.2
    server_args = ("--open-file-cache-valid", "200ms")

    def populate(self, root):
        self.write("f.bin", b"A" * 1000)

    def replace(self, data):
        tmp = self.write("f.tmp", data)
        os.rename(tmp, os.path.join(self.root, "f.bin"))

    def test_unchanged_file_is_confirmed_with_one_statx(self):
        conn = self.server.http()
        self.fetch(conn, "/f.bin")
        first = self.settled((0, 0), misses=1)
        time.sleep(self.WINDOW * 1.5)
        self.assertEqual(self.fetch(conn, "/f.bin")[2], b"A" * 1000)
        second = self.settled(cache_counts(first), hits=1)
        self.assertEqual(cache_counts(second), (1, 1))
        self.assertEqual(op_count(second, "statx"), op_count(first, "statx") + 1)
        self.assertEqual(op_count(second, "openat"), op_count(first, "openat"))
        conn.close()

    def test_file_replaced_by_rename_is_served_new_after_the_window(self):
        conn = self.server.http()
        _, old_tag, _ = self.fetch(conn, "/f.bin")
        self.replace(b"B" * 1000)  # same size: only the inode (and mtime) tell them apart
        time.sleep(self.WINDOW * 1.5)
        status, new_tag, body = self.fetch(conn, "/f.bin")
        self.assertEqual((status, body), (200, b"B" * 1000))
        self.assertNotEqual(old_tag, new_tag)
        conn.close()

    def test_file_rewritten_in_place_is_served_new_after_the_window(self):
        conn = self.server.http()
        self.fetch(conn, "/f.bin")
        with open(os.path.join(self.root, "f.bin"), "wb") as f:
            f.write(b"C" * 1500)
        time.sleep(self.WINDOW * 1.5)
        status, _, body = self.fetch(conn, "/f.bin")
        self.assertEqual((status, body), (200, b"C" * 1500))
        conn.close()

    def test_deleted_file_is_404_after_the_window(self):
        conn = self.server.http()
        self.assertEqual(self.fetch(conn, "/f.bin")[0], 200)
        os.unlink(os.path.join(self.root, "f.bin"))
        time.sleep(self.WINDOW * 1.5)
        self.assertEqual(self.fetch(conn, "/f.bin")[0], 404)
        conn.close()


def churn_body(i):
    """Each file's bytes name it, at a length of its own (1 byte to 6 KiB)."""
    tag = b"<%d>" % i
    length = 1 + (i * 7919) % 6000
    return (tag * (length // len(tag) + 1))[:length]


class Churn(CacheTest):
    """20,000 distinct files through a 1,000-entry cache, from two clients at once, while a large
    download whose entry is evicted early keeps its file."""
    FILES = 20_000
    BIG = 64 << 20
    threads = 2
    server_args = ("--open-file-cache", "1000")

    def populate(self, root):
        for i in range(self.FILES):
            d = os.path.join(root, "c", "%02d" % (i % 100))
            if i < 100:
                os.makedirs(d)
            with open(os.path.join(d, "%d.bin" % i), "wb") as f:
                f.write(churn_body(i))
        self.big = offset_pattern(self.BIG)
        self.write("big.bin", self.big)

    def test_every_body_is_right_under_eviction(self):
        sock, f, prefix = paused_download(self.server, "/big.bin")
        wrong = []

        def client(seed):
            order = list(range(self.FILES))
            random.Random(seed).shuffle(order)
            conn = self.server.http()
            for i in order:
                conn.request("GET", "/c/%02d/%d.bin" % (i % 100, i))
                r = conn.getresponse()
                body = r.read()
                if r.status != 200 or body != churn_body(i):
                    wrong.append((i, r.status, body[:20]))
            conn.close()

        clients = [threading.Thread(target=client, args=(seed,)) for seed in (1, 2)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        self.assertEqual(wrong, [])

        rest = read_exactly(f, self.BIG - len(prefix))
        sock.close()
        self.assertEqual(prefix + rest, self.big)

        m = self.server.metrics_when(
            lambda m: sum(cache_counts(m)) >= 2 * self.FILES + 1)
        hits, misses = cache_counts(m)
        self.assertEqual(hits + misses, 2 * self.FILES + 1)
        # Two visits in random orders through 1,000 entries per worker: nearly all are misses,
        # and the caches stayed within their bound throughout.
        self.assertGreater(misses, 1.5 * self.FILES)
        self.assertLessEqual(m["spliced_open_file_cache_entries"], 2 * 1000)
        self.assertGreater(m["spliced_open_file_cache_entries"], 0)


if __name__ == "__main__":
    main()
