"""Access keys: the lookup the signature check uses, and their management while the server runs.

The root key is configuration (``BLOCKSNAP_ROOT_*`` or the data dir's
``credentials`` file), so it is neither listed nor revocable here; every
other key lives in a :class:`~chalicelib.ports.KeyStore`.
"""

from __future__ import annotations

import time
from typing import Callable

from ..domain.access import ACCESS_KEY_ID, AccessKey, Policy, new_key
from ..domain.errors import AccessKeyNotFound, ValidationError
from ..ports import KeyStore


class AccessKeys:
    def __init__(self, root: AccessKey | None, store: KeyStore, clock: Callable[[], float] = time.time):
        self.root = root
        self.store = store
        self.clock = clock

    def lookup(self, access_key_id: str) -> AccessKey | None:
        if self.root is not None and access_key_id == self.root.access_key_id:
            return self.root
        return self.store.get(access_key_id)

    def create(self, policy: Policy, description: str = "") -> AccessKey:
        key = new_key(policy, description, self.clock())
        self.store.add(key)
        return key

    def list(self) -> list[AccessKey]:
        return self.store.all()

    def revoke(self, access_key_id: str) -> None:
        if not ACCESS_KEY_ID.fullmatch(access_key_id):  # the wire checked it; no store sees anything else
            raise AccessKeyNotFound(access_key_id)
        if self.root is not None and access_key_id == self.root.access_key_id:
            raise ValidationError("The root access key is configuration and cannot be revoked; "
                                  "change BLOCKSNAP_ROOT_* or the data dir's credentials file and restart.")
        if not self.store.remove(access_key_id):
            raise AccessKeyNotFound(access_key_id)
