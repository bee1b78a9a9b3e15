"""Which custom Graph and sign-in addresses can be used."""

from __future__ import annotations

import pytest

from custom_components.teams_presence_keeper.graph import endpoint_url_problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://graph.contoso.example", None),
        ("https://graph.contoso.example/v1.0/", None),
        ("  https://graph.contoso.example  ", None),
        ("http://localhost:8080", None),
        ("http://127.0.0.1:8080", None),
        ("http://[::1]:8080", None),
        ("http://graph.contoso.example", "insecure_url"),
        ("http://10.0.0.8:8443", "insecure_url"),
        ("graph.contoso.example", "invalid_url"),
        ("ftp://graph.contoso.example", "invalid_url"),
        ("https://", "invalid_url"),
        ("https://[::1", "invalid_url"),
        ("https://graph.contoso.example:99999", "invalid_url"),
        ("https://login.contoso.example/?tenant=x", "invalid_url"),
        ("https://login.contoso.example/#top", "invalid_url"),
        # Credentials in the address: aiohttp refuses to send a request with them
        # and an Authorization header, and they would show wherever the URL does.
        ("https://user:pw@login.contoso.example", "invalid_url"),
        ("https://user@login.contoso.example", "invalid_url"),
        ("http://:secret@127.0.0.1:8080", "invalid_url"),
        ("https://:secret@login.contoso.example", "invalid_url"),
        ("https://:@login.contoso.example", "invalid_url"),
        ("https://@login.contoso.example", "invalid_url"),
        ("https://login.contoso.example/users/a@contoso.example", None),
    ],
)
def test_endpoint_url_problem(url: str, problem: str | None) -> None:
    assert endpoint_url_problem(url) == problem
