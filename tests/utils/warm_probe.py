"""What a run process of the warm process sees, for tests/integration/test_warm_runs.py: run as ``__main__`` in
place of Prefect's engine, it prints (as JSON, on the standard output its command handed over) its process ids, its
open descriptors and threads, its working directory, one variable of its environment and how many objects its
garbage collector leaves alone; then sleeps for ``PROBE_SLEEP`` seconds (to be signalled) and exits with
``PROBE_EXIT``."""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time

if __name__ == "__main__":
    # the listing's own descriptor is closed by the time each is checked
    descriptors = sorted(int(fd) for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}"))
    seen = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "descriptors": descriptors,
        "threads": threading.active_count(),
        "cwd": os.getcwd(),
        "marker": os.environ.get("PROBE_MARKER"),
        "argv": sys.argv[1:],
        "main": __name__,
        "frozen": gc.get_freeze_count(),  # how many of the warm process's objects the collector leaves alone
    }
    print(json.dumps(seen), flush=True)
    time.sleep(float(os.environ.get("PROBE_SLEEP", "0")))
    sys.exit(int(os.environ.get("PROBE_EXIT", "0")))
