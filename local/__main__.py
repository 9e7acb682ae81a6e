"""``python -m local`` (``make local``): run the engine locally in the foreground until Ctrl-C/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from local.stack import DEFAULT_PORT_BASE, LocalStack, LocalStackOptions
from local.state import StateError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ.get("LOCAL_PORT_BASE", DEFAULT_PORT_BASE)),
        help="API on this port, the AWS emulator on +1, sandboxes on +2..+4; 0 = free ports "
        f"(default {DEFAULT_PORT_BASE}, or $LOCAL_PORT_BASE)",
    )
    parser.add_argument("--state-dir", type=Path, default=None, help="where env and logs go (default .local)")
    parser.add_argument(
        "--processor-instances",
        type=int,
        default=2,
        help="processes per channel processor, each one invocation at a time (0: the environment's "
        "max_concurrency, as deployed; default 2)",
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="forget the state saved by the last stop and start from the seed (make local-reset)",
    )
    args = parser.parse_args(argv)
    # The stack's own events (a worker replaced, an invocation failed, state saved) on the console.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    options = LocalStackOptions(
        port_base=args.port_base, processor_instances=args.processor_instances or None, reset_state=args.reset
    )
    if args.state_dir is not None:
        options.state_dir = args.state_dir
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    stack = LocalStack(options)
    try:
        stack.start()
    except OSError as error:
        print(f"error: the local stack could not start: {error} (try --port-base or LOCAL_PORT_BASE)", file=sys.stderr)
        return 1
    except StateError as error:
        print(f"error: {error}; start clean with make local-reset (python -m local --reset)", file=sys.stderr)
        return 1
    print(stack.banner(), flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        print("Stopping the local stack…", flush=True)
        stack.stop()
        if stack.saved is not None:
            print(f"Saved to {options.state_file}: {stack.saved.describe()}.", flush=True)
            print("Restored on the next start; make local-reset starts clean.", flush=True)
        else:
            print(f"The state was NOT saved (see the error above); {options.state_file} is unchanged.", flush=True)
        print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
