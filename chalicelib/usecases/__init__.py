"""Use cases beside :mod:`chalicelib.service`: the snapshot catalog (describe, tags), deletion, copies.

They take and return domain values (records, filters, tag tuples); the
protocol layers in :mod:`chalicelib.http` convert to and from each wire.
"""
