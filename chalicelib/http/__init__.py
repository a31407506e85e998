"""The HTTP mapping: wire parsing, serialisation and the one error table."""
