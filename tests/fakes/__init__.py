"""Loopback stand-ins for the external services the executor talks to, started by the tests."""
