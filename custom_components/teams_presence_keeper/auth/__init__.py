"""Signing in to one Microsoft 365 account, in four parts imported apart.

``errors`` (why a sign-in failed, no Home Assistant, no msal), ``entry`` (what a
stored entry asks for), ``tokens`` (the runtime token providers) and ``sign_in``
(the config flow's sign-ins). Empty, so importing ``errors`` pulls in nothing else.
"""
