"""Fixtures of the Graph client's tests, shared with tests/contract."""

from tests.contract.conftest import documented_graph

__all__ = ["documented_graph"]
"""`documented_graph`: a loopback server answering the body a test sets."""
