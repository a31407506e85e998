"""The root access key of ``blocksnap serve``: from the environment, else the data dir's ``credentials`` file.

The file is in the AWS shared-credentials format with a ``blocksnap``
profile, so ``AWS_SHARED_CREDENTIALS_FILE=<data dir>/credentials
AWS_PROFILE=blocksnap`` makes every SDK and the AWS CLI use it. It is
created at the first start, readable by its owner only, and never rewritten:
the racing processes of a first start agree on one key (create-once).
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path
from typing import Mapping

from ..adapters.durable_files import create_once
from ..domain.access import ACCESS_KEY_ID, AccessKey, Policy, new_key
from ..processes import CliError

ENV_ROOT_ACCESS_KEY_ID = "BLOCKSNAP_ROOT_ACCESS_KEY_ID"
ENV_ROOT_SECRET_ACCESS_KEY = "BLOCKSNAP_ROOT_SECRET_ACCESS_KEY"
CREDENTIALS_FILE = "credentials"
KEYS_FILE = "access-keys.json"
PROFILE = "blocksnap"
# Tells serve's HTTP workers (fresh interpreters) that --no-auth is on.
ENV_NO_AUTH = "BLOCKSNAP_NO_AUTH"


def root_key(data_dir: Path, environ: Mapping[str, str] = os.environ) -> tuple[AccessKey, bool]:
    """The root key, and whether this call created the credentials file."""
    key_id, secret = environ.get(ENV_ROOT_ACCESS_KEY_ID), environ.get(ENV_ROOT_SECRET_ACCESS_KEY)
    if key_id or secret:
        if not (key_id and secret):
            raise CliError(f"set both {ENV_ROOT_ACCESS_KEY_ID} and {ENV_ROOT_SECRET_ACCESS_KEY}, or neither")
        if not ACCESS_KEY_ID.fullmatch(key_id):
            raise CliError(f"{ENV_ROOT_ACCESS_KEY_ID} must be 16 to 128 letters, digits or underscores")
        return AccessKey(key_id, secret, Policy.FULL, "root"), False
    path = data_dir / CREDENTIALS_FILE
    created = False
    if not path.exists():
        generated = new_key(Policy.FULL, "root")
        text = (f"[{PROFILE}]\naws_access_key_id = {generated.access_key_id}\n"
                f"aws_secret_access_key = {generated.secret_access_key}\n")
        data_dir.mkdir(parents=True, exist_ok=True)
        created = create_once(path, text.encode())
    parser = configparser.ConfigParser()
    try:
        parser.read_string(path.read_text())
        section = parser[PROFILE]
        return AccessKey(section["aws_access_key_id"], section["aws_secret_access_key"], Policy.FULL, "root"), created
    except (configparser.Error, KeyError):
        raise CliError(f"{path}: no [{PROFILE}] profile with aws_access_key_id and aws_secret_access_key") from None


def announce_auth(data_dir: Path, auth: bool) -> None:
    """Say how requests are authenticated; the root key's secret only when it was just created."""
    os.environ[ENV_NO_AUTH] = "" if auth else "1"
    if not auth:
        print("blocksnap: WARNING: --no-auth: requests are NOT authenticated; anyone who can reach this server "
              "can read, write and delete every snapshot", file=sys.stderr, flush=True)
        return
    root, created = root_key(data_dir)
    where = f"{data_dir / CREDENTIALS_FILE} (profile {PROFILE})"
    if created:
        print(f"blocksnap: created the root access key in {where}, shown this once:\n"
              f"  aws_access_key_id = {root.access_key_id}\n  aws_secret_access_key = {root.secret_access_key}",
              flush=True)
    elif os.environ.get(ENV_ROOT_ACCESS_KEY_ID):
        print(f"blocksnap: requests must be signed; root access key {root.access_key_id} from "
              f"{ENV_ROOT_ACCESS_KEY_ID}", flush=True)
    else:
        print(f"blocksnap: requests must be signed; root access key in {where}", flush=True)
