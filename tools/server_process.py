"""Helpers for Python programs that run a tinylm-server process: its port
from the start-up line, and its resident memory. Shared by the interop
test and the soak tool."""
import re
import select
import time


def read_port(process, timeout_s):
    """The port from the server's "... on port N" start-up line, waiting at
    most timeout_s; RuntimeError with what the server printed otherwise."""
    deadline = time.monotonic() + timeout_s
    output = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if not ready:
            if process.poll() is not None:
                break
            continue
        line = process.stdout.readline()
        if not line:
            break
        output += line
        match = re.search(rb"on port (\d+)", line)
        if match:
            return int(match.group(1))
    raise RuntimeError("server did not start: %r" % output)


def rss_kb(pid):
    """Resident memory of process pid in KiB (VmRSS of /proc/<pid>/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)
