"""Whether ``healthscore serve --host`` may bind an address that other machines reach.

A loopback address (127.0.0.0/8, ::1, ``localhost``) answers this machine only. Any other
address answers whoever reaches it, so the server starts there only when reads need a token
(``api.read_requires_token: true``) and at least one active token exists to sign in with — or
when the user says ``--public`` and takes the open pages knowingly.
"""

from __future__ import annotations

import ipaddress

from healthscore.errors import InputError
from healthscore.store.tokens import active_tokens
from healthscore.workspace import Workspace


def is_loopback(host: str) -> bool:
    """Whether ``host`` answers this machine only.

    >>> [is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "LocalHost")]
    [True, True, True, True, True]
    >>> [is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "health.acme.com")]
    [False, False, False, False]
    """
    name = host.strip().lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def check_bind(host: str, *, port: int, read_requires_token: bool, active_tokens: int,
               public: bool, allowed_hosts: list[str]) -> list[str]:
    """The warnings to print before serving on ``host``; raises :class:`InputError` (exit 2)
    when a non-loopback address would serve the pages and API to everyone.

    Examples
    --------
    >>> check_bind("127.0.0.1", port=8000, read_requires_token=False, active_tokens=0,
    ...            public=False, allowed_hosts=["localhost"])
    []
    >>> try:
    ...     check_bind("0.0.0.0", port=8000, read_requires_token=False, active_tokens=0,
    ...                public=False, allowed_hosts=["localhost"])
    ... except InputError as exc:
    ...     print(exc.message[:41])
    --host: 0.0.0.0 answers other machines, a
    """
    if is_loopback(host):
        return []
    hosts = ", ".join(allowed_hosts)
    names = (f"serve.allowed_hosts in healthscore.yaml must list the name clients use to reach "
             f"{host}:{port} (now: {hosts}); other names get 400")
    if read_requires_token and active_tokens > 0:
        return [names]
    if not public:
        missing = ("no active token exists to sign in with" if read_requires_token
                   else "reads are open (api.read_requires_token is false)")
        raise InputError("--host", f"{host} answers other machines, and {missing}: set "
                         "`api: {read_requires_token: true}` in healthscore.yaml and create a "
                         "token (`healthscore token create -w DIR --name NAME`), or pass "
                         "--public to serve every account to everyone who reaches it")
    return [f"--public: everyone who reaches {host}:{port} can read every account, without "
            "signing in; " + names]


def count_active_tokens(workspace: Workspace) -> int:
    """How many unrevoked API tokens the workspace's store holds."""
    with workspace.store(read_only=True) as store:
        return len(active_tokens(store))
