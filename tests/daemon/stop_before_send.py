"""``cmsync`` whose run requests stop for good after recording the run, before sending its first message.

The window between the two is where a kill leaves a run recorded with nothing queued; the tests kill
this process there once it printed ``STOPPED``, every time, instead of hoping a random kill lands in it.
"""

import sys
import threading

from cmsync.cli.main import main
from cmsync.state import StateStore
from cmsync.workers import runs

STOPPED = "stopped between recording run and sending it"


def _stop_forever(_store: StateStore, run_id: int) -> None:
    print(f"{STOPPED} {run_id}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    runs.send_run = _stop_forever
    sys.exit(main(sys.argv[1:]))
