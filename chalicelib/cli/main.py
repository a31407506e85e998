"""blocksnap: a self-hostable block-level snapshot service speaking the Amazon EBS direct APIs.

Environment: BLOCKSNAP_DATA_DIR (the default data dir), BLOCKSNAP_BACKEND
(embedded or aws), BLOCKSNAP_PROCESSES (serve's default --processes),
BLOCKSNAP_ROOT_ACCESS_KEY_ID and BLOCKSNAP_ROOT_SECRET_ACCESS_KEY (the root
key; else DATA_DIR/credentials); the AWS backend reads the standard AWS_*
variables. README.md has the rest.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, TypeVar

from .. import wiring
from ..processes import CliError, keep_private, one_line_errors, port_number
from . import keys
from .preflight import positive_integer

ENV_PROCESSES = "BLOCKSNAP_PROCESSES"

T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blocksnap", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    data_dir_help = (
        f"where the embedded backend keeps its data (default: ${wiring.ENV_DATA_DIR}, else {wiring.xdg_data_dir()})"
    )

    serve = sub.add_parser("serve", help="serve the EBS direct API and the blocksnap extensions")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on, an IP address or a host name (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=port_number, default=8642, help="port to listen on; 0 picks a free one (default: %(default)s)"
    )
    serve.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    serve.add_argument(
        "--threads", type=positive_integer, default=8,
        help="request threads per HTTP worker process (default: %(default)s)",
    )
    serve.add_argument(
        "--processes", type=positive_integer, default=None,
        help=f"HTTP worker processes, e.g. one per core for throughput (default: ${ENV_PROCESSES}, else 1)",
    )
    serve.add_argument(
        "--backend", choices=wiring.BACKENDS, default=None,
        help=f"embedded: SQLite + files in the data dir; aws: DynamoDB + S3 (endpoints from the standard "
        f"AWS_ENDPOINT_URL* variables, or BLOCKSNAP_AWS_TARGET=localstack) (default: ${wiring.ENV_BACKEND}, "
        "else embedded)",
    )
    serve.add_argument(
        "--no-auth", action="store_true",
        help="accept unsigned requests from anyone (throwaway test rigs only; said loudly at every start)",
    )
    serve.add_argument(
        "--nbd-host", default="127.0.0.1", help="address the volumes' NBD exports listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--nbd-port", type=port_number, default=10809, help="NBD port; 0 picks a free one (default: %(default)s)"
    )

    init = sub.add_parser(
        "init", help="create the cloud tables, the bucket and the default KMS key (idempotent)"
    )
    init.add_argument("--backend", choices=["aws"], required=True, help="the backend to create")

    rebuild = sub.add_parser(
        "rebuild", help="drop the read models and rebuild them from the events (stop the server first)",
    )
    rebuild.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    rebuild.add_argument(
        "--backend", choices=wiring.BACKENDS, default=None,
        help="aws: the tables and bucket the standard AWS variables and BLOCKSNAP_* names point at; "
        f"pause the projector first (default: ${wiring.ENV_BACKEND}, else embedded)",
    )
    rebuild.add_argument("--no-progress", action="store_true", help="no progress bar")
    keys.add_parser(sub, data_dir_help)

    from blocksnap_client.commands import register  # upload, download, ...: the client, a package of its own

    register(sub)

    invoke = sub.add_parser("invoke", help="run one function's Lambda handler here on an event (e.g. from events/)")
    invoke.add_argument("function", help="api_handler, projector, timekeeper, encryption or encryption_copier")
    invoke.add_argument("event", type=Path, help="the event, a JSON file")
    invoke.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    invoke.add_argument(
        "--backend", choices=wiring.BACKENDS, default=None,
        help=f"the runtime the handler gets (default: ${wiring.ENV_BACKEND}, else embedded)",
    )
    return parser


def _from_env(name: str, parse: Callable[[str], T], default: T) -> T:
    """A setting from the environment, or ``default``; a value that does not parse is a CliError."""
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return parse(value)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise CliError(f"{name}: {exc}") from None


def _minute_seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{value!r} is not a positive number of seconds")
    return seconds


def _backend(value: str) -> str:
    if value not in wiring.BACKENDS:
        raise ValueError(f"{value!r} is not one of {', '.join(wiring.BACKENDS)}")
    return value


def _run(args: argparse.Namespace) -> int:
    if hasattr(args, "run"):
        return args.run(args)
    backend = args.backend if getattr(args, "backend", None) else _from_env(wiring.ENV_BACKEND, _backend, "embedded")
    if args.command == "serve":
        from .serve import serve

        return serve(
            args.host, args.port, wiring.data_dir(args.data_dir), args.threads,
            _from_env(wiring.ENV_MINUTE_SECONDS, _minute_seconds, 60.0), backend,
            args.processes or _from_env(ENV_PROCESSES, positive_integer, 1),
            auth=not args.no_auth, nbd=(args.nbd_host, args.nbd_port),
        )
    if args.command == "keys":
        return keys.run(args, wiring.data_dir(args.data_dir))
    if args.command == "init":
        from .aws_setup import ensure_default_key, ensure_tables_and_bucket

        session = wiring.aws_session()
        region = wiring.aws_region(session)
        names = wiring.aws_names()
        ensure_tables_and_bucket(names, region=region, session=session)
        key = ensure_default_key(names, region=region, session=session)
        print(f"ready: tables {names.events_table}, {names.snapshots_table}; bucket {names.bucket}; "
              f"default key {names.key_alias} ({key})")
        return 0
    if args.command == "invoke":
        from .invoke import run

        return run(args.function, args.event, backend, wiring.data_dir(args.data_dir))
    from .rebuild import rebuild, rebuild_aws

    if backend == "aws":
        return rebuild_aws(progress=not args.no_progress)
    return rebuild(wiring.data_dir(args.data_dir), progress=not args.no_progress)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    keep_private()
    return one_line_errors("blocksnap", lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
