"""Use cases that are not the snapshot service's: each loads what it needs from a port, decides, stores."""
