"""Volumes: disks made from snapshots, served over NBD, snapshotted at sub-block granularity (issue 15)."""
