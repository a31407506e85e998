"""``blocksnap invoke FUNCTION EVENT.json``: one Lambda handler run here, on one event.

What ``chalice invoke`` does against a deployment, done locally: the event
(a sample from ``events/`` or one captured from AWS) goes through the same
handler ``app.py`` declares for the function, with the runtime
``chalicelib.wiring`` builds from the environment, and the handler's answer
is printed as JSON. The handlers are reached only through ``app.py``, the
module Lambda loads, so what runs here is what a deployed function runs.

The embedded backend holds the data dir, as ``rebuild`` does: an invoked
projector or timekeeper writes the read models, which a running ``serve``
owns. The encryption functions exist on the AWS backend only (locally the
encryption worker plays their part), so they are refused on the embedded one.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import wiring
from ..datadir import hold_data_dir
from ..processes import CliError

ROOT = Path(__file__).resolve().parents[2]

# The functions as .chalice/config.json names them -> their handler in app.py.
HANDLERS = {
    "api_handler": "app",
    "projector": "project",
    "timekeeper": "sweep_timeouts",
    "encryption": "encryption",
    "encryption_copier": "copy_encrypted",
}
AWS_ONLY = ("encryption", "encryption_copier")


@dataclass
class LocalContext:
    """The part of Lambda's context object the handlers and chalice read."""

    function_name: str
    memory_limit_in_mb: int = 1024
    aws_request_id: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:blocksnap-prod-{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def handler(function: str):
    """``app.py``'s handler of ``function``, importing app.py from the checkout it sits in."""
    if function not in HANDLERS:
        raise CliError(f"unknown function {function!r}: one of {', '.join(HANDLERS)}")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return getattr(importlib.import_module("app"), HANDLERS[function])


def invoke(function: str, event: Any) -> Any:
    """Run ``function``'s handler on ``event`` as Lambda would, and return its answer."""
    return handler(function)(event, LocalContext(function, aws_request_id=str(uuid.uuid4())))


def run(function: str, event_path: Path, backend: str, data_dir: Path) -> int:
    try:
        event = json.loads(event_path.read_text())
    except OSError as exc:
        raise CliError(f"cannot read {event_path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CliError(f"{event_path} is not JSON: {exc}") from None
    if backend == "embedded" and function in AWS_ONLY:
        raise CliError(f"{function} runs on the AWS backend only (embedded, the encryption worker serves it)")
    handler(function)  # an unknown name fails before the data dir is taken
    with hold_data_dir(data_dir, "invoke") if backend == "embedded" else contextlib.nullcontext():
        wiring.install(wiring.aws(poll_stream=False) if backend == "aws" else wiring.embedded(data_dir))
        answer = invoke(function, event)
    print(json.dumps(answer, indent=2, default=str))
    return 0
