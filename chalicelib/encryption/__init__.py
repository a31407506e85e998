"""The encryption function: the one holder of key material.

This package is imported only by the encryption function itself, the
embedded worker process (:mod:`.worker`) or the encryption Lambda
(:func:`.function.lambda_handler`). The API handler never imports it, nor
``cryptography``: it reaches encryption only through the
:class:`~chalicelib.ports.EncryptionFunction` port, whose adapters send
requests to another process. So a bug or an injection in a user-facing path
cannot read a data key, because no data key is ever in that process's memory;
``tests/unit/test_isolation_imports.py`` enforces the boundary.
"""
