"""The real processes of the soak: the example server (started, SIGKILLed,
restarted on the same port, measured through /proc), the small tmpfs that
holds the FileStore's directory (filled to the last byte for a full disk),
and the redis-server, which is the outage test's own launcher
(test/net/outage_client.py's Redis)."""
import ctypes
import errno
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "net"))

from outage_client import Redis, health  # noqa: E402  (the outage test's launcher)
from py_support import free_port  # noqa: E402

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In a child before exec: SIGKILL when the controller dies, even by
    SIGKILL, so no server outlives the soak. (Strictly, when the thread that
    started it ends: restarts run on the event loop's executor threads,
    which live until the mode's asyncio.run returns, after its cleanup.)"""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Server:
    """build/examples/server on a fixed free loopback port, restartable."""

    def __init__(self, binary, www, data_dir, redis_url, log_path):
        self.port = free_port()
        self.args = [binary, "--port=%d" % self.port, "--www=" + www, "--data-dir=" + data_dir,
                     "--demo-faults", "--log=warning"]
        self.env = dict(os.environ)
        self.env.pop("TROUPE_REDIS_URL", None)
        if redis_url:
            self.args.append("--redis=" + redis_url)
        self.log_path = log_path
        self.proc = None
        self.starts = 0

    def start(self, limit=30.0):
        """Starts it and waits (bounded) for /healthz to answer 200; False if
        it exited or did not answer in time."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.DEVNULL,
                                         stderr=log, preexec_fn=die_with_parent)
        self.starts += 1
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            if health(self.port) == 200:
                return True
            time.sleep(0.05)
        return False

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        """SIGINT (a clean shutdown), SIGKILL if it takes over 15 s."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def exited(self):
        """The exit status if the server exited on its own, else None."""
        return self.proc.poll() if self.proc else None

    @property
    def pid(self):
        return self.proc.pid

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""


class SmallDisk:
    """A tmpfs of `size_mb` mounted on `mount_point` (the soak runs in its own
    mount namespace, see soak.py): the FileStore's directory lives in it, and
    fill() takes every free byte with a filler file so the store's writes
    and fsyncs fail with ENOSPC until free()."""

    def __init__(self, mount_point, size_mb):
        self.mount_point = mount_point
        self.size_mb = size_mb
        self.mounted = False
        self.filler = os.path.join(mount_point, "filler")

    def mount(self):
        os.makedirs(self.mount_point, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % self.size_mb,
                        "soak-tmpfs", self.mount_point], check=True)
        self.mounted = True

    def fill(self):
        """Writes the filler until the filesystem refuses a single byte more;
        returns the bytes it took."""
        taken = 0
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (1 << 20, 4096, 1):
                block = b"\0" * chunk
                while True:
                    try:
                        taken += os.write(fd, block)
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        return taken

    def free(self):
        try:
            os.unlink(self.filler)
        except FileNotFoundError:
            pass

    def journals(self):
        """The FileStore's batch journals now in its directory (data/)."""
        try:
            return sorted(n for n in os.listdir(os.path.join(self.mount_point, "data"))
                          if n.startswith(".journal-"))
        except FileNotFoundError:
            return []

    def unmount(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.mount_point], check=False)
            self.mounted = False


__all__ = ["Redis", "Server", "SmallDisk", "free_port"]
