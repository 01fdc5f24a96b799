"""`vigilo dashboard`: make the admin password hash for `server.admin_password_hash`."""

from __future__ import annotations

import sys

import typer

from vigilo.cli.common import fail

app = typer.Typer(help="Web dashboard helpers (docs/dashboard.md).", no_args_is_help=True)

MIN_LENGTH = 10


def _read_password(stdin: bool) -> str:
    if stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Admin password", hide_input=True, confirmation_prompt=True, err=True))


@app.command("hash-password")
def hash_password(
    stdin: bool = typer.Option(False, "--stdin", help="Read the password from the first line of stdin."),
) -> None:
    """Read a password (prompted twice, or one line of stdin) and print its scrypt hash.

    Put the printed line in `server.admin_password_hash` (or VIGILO_SERVER__ADMIN_PASSWORD_HASH);
    the password itself is never stored.
    """
    from vigilo.dashboard.passwords import hash_password as make_hash

    password = _read_password(stdin)
    if len(password) < MIN_LENGTH:
        fail(f"the password must have at least {MIN_LENGTH} characters")
    typer.echo(make_hash(password))
