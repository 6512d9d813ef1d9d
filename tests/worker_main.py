"""`python -m tests.worker_main <flask args>`: the flask CLI on the test run's clock.

tests.plugins.rq_worker starts fault-test workers through this, with
CRM_TEST_CLOCK_OFFSET set to how far the run's pinned clock (--now) is from the
real one, so that the worker's "now" is the test's "now".
"""
import os
import sys
import time

import time_machine
from flask.cli import main

if __name__ == "__main__":
    offset = float(os.environ.get("CRM_TEST_CLOCK_OFFSET") or 0)
    if offset:
        time_machine.travel(time.time() + offset, tick=True).start()
    sys.argv[0] = "flask"
    main()
