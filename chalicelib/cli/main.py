"""Entry point of the ``blocksnap`` console script."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import wiring


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blocksnap", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the EBS direct API and the blocksnap extensions")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8642, help="0 picks a free port")
    serve.add_argument("--data-dir", type=Path, default=None, help=f"default {wiring.default_data_dir()}")
    serve.add_argument("--threads", type=int, default=8, help="request worker threads per process")
    serve.add_argument(
        "--processes", type=int, default=int(os.environ.get("BLOCKSNAP_PROCESSES", "1")),
        help="HTTP worker processes (use the number of cores for throughput)",
    )
    serve.add_argument(
        "--backend", choices=["embedded", "aws"], default=os.environ.get(wiring.ENV_BACKEND, "embedded"),
        help="embedded: SQLite + files in the data dir; aws: DynamoDB + S3 (endpoints from the "
        "standard AWS_ENDPOINT_URL* variables, or BLOCKSNAP_AWS_TARGET=localstack)",
    )

    init = sub.add_parser("init", help="create the cloud tables and bucket (idempotent)")
    init.add_argument("--backend", choices=["aws"], required=True)

    rebuild = sub.add_parser("rebuild", help="drop the read models and rebuild them from the events")
    rebuild.add_argument("--data-dir", type=Path, default=None, help=f"default {wiring.default_data_dir()}")
    rebuild.add_argument(
        "--backend", choices=["embedded", "aws"], default=os.environ.get(wiring.ENV_BACKEND, "embedded"),
        help="aws: the tables and bucket the standard AWS variables and BLOCKSNAP_* names point at; "
        "pause the projector first",
    )
    rebuild.add_argument("--no-progress", action="store_true")
    return parser


def _data_dir(value: Path | None) -> Path:
    return (value or Path(os.environ.get(wiring.ENV_DATA_DIR) or wiring.default_data_dir())).expanduser()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    minute_seconds = float(os.environ.get(wiring.ENV_MINUTE_SECONDS, "60"))
    if args.command == "serve":
        from .serve import serve

        return serve(
            args.host, args.port, _data_dir(args.data_dir), args.threads, minute_seconds,
            args.backend, max(1, args.processes),
        )
    if args.command == "init":
        from ..adapters.aws_setup import ensure_tables_and_bucket

        session = wiring.aws_session()
        region = wiring.aws_region(session)
        names = wiring.aws_names()
        ensure_tables_and_bucket(names, region=region, session=session)
        print(f"ready: tables {names.events_table}, {names.snapshots_table}; bucket {names.bucket}")
        return 0
    if args.command == "rebuild":
        from .rebuild import rebuild, rebuild_aws

        if args.backend == "aws":
            return rebuild_aws(progress=not args.no_progress)
        return rebuild(_data_dir(args.data_dir), progress=not args.no_progress)
    return 2


if __name__ == "__main__":
    sys.exit(main())
