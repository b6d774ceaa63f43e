"""What the Python interop scripts share: failing with a message, free
loopback ports, waiting (bounded) for a server to come up, and asking a
redis-server whether it answers."""
import socket
import sys
import time


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(ready, what, limit=10.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if ready():
            return
        time.sleep(0.05)
    fail(what + " did not come up")


def answers_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False
