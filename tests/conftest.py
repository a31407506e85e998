"""Shared fixtures: real servers on free loopback ports, stopped after use."""

pytest_plugins = ["tests.moto_fixtures"]
