"""Adapters: one module per backend, each implementing a port of ``chalicelib.ports``."""
