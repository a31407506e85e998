"""``blocksnap keys create|list|revoke``: the running server's access keys, over its ``/blocksnap/v1/keys`` API.

The command signs with a full key: ``BLOCKSNAP_ROOT_*`` when set, else the
data dir's ``credentials`` file when it exists, else whatever the AWS
variables and profiles give boto3.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..domain.access import Policy
from .credentials import CREDENTIALS_FILE, ENV_ROOT_ACCESS_KEY_ID, root_key
from ..processes import CliError


def add_parser(sub, data_dir_help: str) -> None:
    keys = sub.add_parser("keys", help="create, list and revoke access keys of a running server")
    keys.add_argument("--endpoint-url", default="http://127.0.0.1:8642", help="the server (default: %(default)s)")
    keys.add_argument("--data-dir", type=Path, default=None, help=data_dir_help + "; its credentials sign")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it with its secret (shown only here)")
    create.add_argument("--policy", choices=[p.value for p in Policy], required=True)
    create.add_argument("--description", default=None)
    actions.add_parser("list", help="list the keys (never a secret)")
    revoke = actions.add_parser("revoke", help="revoke a key: its next request is refused")
    revoke.add_argument("access_key_id")


def run(args: argparse.Namespace, data_dir: Path) -> int:
    from botocore.exceptions import ClientError

    from blocksnap_client.extensions import BlocksnapClient

    client = BlocksnapClient(args.endpoint_url, session=_session(data_dir))
    try:
        if args.action == "create":
            print(json.dumps(client.create_access_key(args.policy, args.description), indent=2))
        elif args.action == "list":
            print(json.dumps(client.list_access_keys(), indent=2))
        else:
            client.delete_access_key(args.access_key_id)
    except ClientError as exc:
        raise CliError(str(exc)) from None
    return 0


def _session(data_dir: Path):
    import boto3

    if os.environ.get(ENV_ROOT_ACCESS_KEY_ID) or (data_dir / CREDENTIALS_FILE).exists():
        root, _ = root_key(data_dir)
        return boto3.Session(aws_access_key_id=root.access_key_id, aws_secret_access_key=root.secret_access_key,
                             region_name="us-east-1")
    return boto3.Session(region_name="us-east-1")
