"""Child processes of the integration tests: reading a line they print,
stopping them. Shared by the scripts in this directory."""
import os
import select
import subprocess
import time


def read_line(proc, limit):
    """One line of the child's stdout, or None after `limit` seconds or at
    EOF. Reads byte by byte so nothing after the line is taken."""
    fd = proc.stdout.fileno()
    end = time.monotonic() + limit
    buf = b""
    while not buf.endswith(b"\n"):
        left = end - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 1)
        if not chunk:
            return None
        buf += chunk
    return buf.decode(errors="replace").rstrip("\n")


def stop(procs, grace=5):
    """Asks every process still running to end, then waits for each; one
    that has not ended after `grace` seconds is killed."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
