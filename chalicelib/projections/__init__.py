"""Projections and policies: everything that follows the event log.

They run in the background of ``blocksnap serve`` (fed from the SQLite log)
and, on AWS, in the function triggered by the DynamoDB stream; the same
handlers serve both. Every handler is idempotent, so at-least-once delivery
and the replay of a whole batch leave the read models unchanged.
"""
