"""Runs one Lambda handler in a process of its own behind the Lambda invoke API.

Like the Lambda Runtime Interface Emulator: each function gets its own environment variables and
module state (the warm container), and is invoked with
``POST /2015-03-31/functions/function/invocations``. Run as
``python -m local.function_host --folder channel_router --port 0 --ready-file PATH``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-north-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def load_handler(folder: Path) -> Any:
    """Import ``<folder>/handler.py`` the way the Lambda runtime finds ``handler.handler``."""
    for path in (str(ROOT), str(folder)):
        if path not in sys.path:
            sys.path.insert(0, path)
    spec = importlib.util.spec_from_file_location("handler", folder / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler"] = module
    spec.loader.exec_module(module)
    return module.handler


def serve(folder: Path, port: int, ready_file: Path | None) -> None:
    handler = load_handler(folder)
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", folder.name)
    memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
    timeout = int(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "60"))

    # One invocation at a time, as in a Lambda execution environment; concurrency comes from
    # more processes (local.invoker.FunctionPool), each with its own module state.
    one_at_a_time = threading.Lock()

    class Invoke(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != INVOKE_PATH:
                self._reply(404, {"message": "unknown path"})
                return
            event = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            context = LambdaContext(function_name, memory, timeout)
            try:
                with one_at_a_time:
                    result = handler(event, context)
                self._reply(200, result)
            except Exception as error:  # the runtime's own boundary: report like Lambda does
                traceback.print_exc()
                self._reply(200, {"errorType": type(error).__name__, "errorMessage": str(error)}, failed=True)

        def _reply(self, status: int, payload: Any, *, failed: bool = False) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if failed:
                self.send_header("X-Amz-Function-Error", "Unhandled")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Invoke)
    server.daemon_threads = True
    if ready_file is not None:
        ready_file.write_text(str(server.server_address[1]))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", required=True, help="folder under lambdas/")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args()
    serve(ROOT / "lambdas" / args.folder, args.port, args.ready_file)


if __name__ == "__main__":
    main()
