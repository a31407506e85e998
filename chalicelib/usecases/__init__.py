"""Use cases written over the ports alone, so that a process may hold one without the whole API.

:mod:`.write_sink` is what the encryption function's copier may append to
the log; it needs an :class:`~chalicelib.ports.EventStore` and a clock,
never the read models, the token secret or the API's service.
"""
