"""The encryption function: the one holder of key material, and given nothing else.

This package is imported only by the encryption function itself: the
embedded worker process (:mod:`.worker`) or the encryption Lambda
(:mod:`.lambda_entry`). The API handler never imports it, nor
``cryptography``: it reaches encryption only through the
:class:`~chalicelib.ports.EncryptionFunction` port, whose adapters send
requests to another process. So a bug or an injection in a user-facing path
cannot read a data key, because no data key is ever in that process's memory;
``tests/unit/test_isolation_imports.py`` enforces the boundary. The other way
round, the function is given its key service, the block store and, for
copies, the event store behind a two-append sink: never the block-token
secret or the API's runtime (``tests/unit/test_encryption_holds_no_token_secret.py``).

One job per module:

* :mod:`.service` — keys, the key cache, encrypt, decrypt, lineage keys, input checks;
* :mod:`.dispatch` — one request answered, for both wires;
* :mod:`.socket_server` — the worker's Unix socket (0600, peer uid checked);
* :mod:`.lambda_entry` — the Lambda's invocations and stream batches;
* :mod:`.copier` and :mod:`.follower` — encrypted copies, following the log;
* :mod:`.cipher`, :mod:`.kms`, :mod:`.local_kms` — AES-256-GCM and the key services;
* :mod:`.worker` — the worker process: command line, signals.
"""
