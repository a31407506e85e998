"""The domain: pure Python, no I/O, no boto3, no sqlite3."""
