"""Core services the use cases and the encryption function share: block I/O, manifests, caches."""
