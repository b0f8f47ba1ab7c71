"""``flask --app webmap users ...``: manage accounts and API tokens from the command line."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click
from flask.cli import with_appcontext

from geo.errors import NotFoundError
from webmap import accounts, db
from webmap.cli import _run, json_option


@click.group("users")
def users_group() -> None:
    """Manage user accounts and API tokens."""


def _read_password(password_stdin: bool) -> str:
    """One line from standard input, or a hidden prompt asked twice."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


password_stdin_option = click.option("--password-stdin", is_flag=True,
                                     help="Read the password from one line of standard input.")
username_option = click.option("--username", required=True, help="The user's name.")


@users_group.command("create")
@with_appcontext
@username_option
@click.option("--role", required=True, type=click.Choice(accounts.ROLES))
@click.option("--city", help="City code (e.g. 14.72); optional with one city; none for admin.")
@click.option("--kelurahan", help="Kelurahan code of a lurah (e.g. 14.72.01.1003).")
@click.option("--kecamatan", help="Kecamatan code of a camat (e.g. 14.72.01).")
@password_stdin_option
@json_option
def create(username: str, role: str, city: str | None, kelurahan: str | None,
           kecamatan: str | None, password_stdin: bool, as_json: bool) -> None:
    """Create a user (the password is prompted for, or read with --password-stdin)."""
    db.migrate()
    password = _read_password(password_stdin)

    def action() -> dict[str, Any]:
        user = accounts.create_user(db.get_engine(), username=username, password=password,
                                    role=role, city_kode=city, kelurahan_kode=kelurahan,
                                    kecamatan_kode=kecamatan)
        area = user.kelurahan_kode or user.kecamatan_kode or user.city_kode or "all cities"
        return asdict(user) | {"message": f"User {user.username} ({user.role}, {area}) "
                                              "created."}

    _run(as_json, action)


@users_group.command("list")
@with_appcontext
@json_option
def list_command(as_json: bool) -> None:
    """List users."""
    db.migrate()
    users = [asdict(u) for u in accounts.list_users(db.get_engine())]
    if as_json:
        click.echo(json.dumps(users, indent=2))
        return
    for u in users:
        area = u["kelurahan_kode"] or u["kecamatan_kode"] or "-"
        state = "active" if u["active"] else "disabled"
        click.echo(f"{u['id']}\t{u['username']}\t{u['role']}\t{u['city_kode'] or '-'}\t{area}"
                   f"\t{state}")


@users_group.command("disable")
@with_appcontext
@username_option
@json_option
def disable(username: str, as_json: bool) -> None:
    """Disable a user: no more sign-ins or API tokens, and every session ends."""
    db.migrate()

    def action() -> dict[str, Any]:
        user = accounts.set_active(db.get_engine(), username, False)
        return asdict(user) | {"message": f"User {user.username} disabled; all of their "
                                              "sessions were ended."}

    _run(as_json, action)


@users_group.command("set-password")
@with_appcontext
@username_option
@password_stdin_option
@json_option
def set_password(username: str, password_stdin: bool, as_json: bool) -> None:
    """Set a user's password (prompted for, or read with --password-stdin); every session of
    the user ends."""
    db.migrate()
    password = _read_password(password_stdin)

    def action() -> dict[str, Any]:
        user = accounts.set_password(db.get_engine(), username, password)
        return {"username": user.username,
                "message": f"Password of {user.username} changed; all of their sessions were "
                           "ended."}

    _run(as_json, action)


@users_group.command("end-sessions")
@with_appcontext
@username_option
@json_option
def end_sessions(username: str, as_json: bool) -> None:
    """Sign a user out everywhere (e.g. after a lost phone) without changing the password."""
    db.migrate()

    def action() -> dict[str, Any]:
        user = accounts.find_user(db.get_engine(), username)
        if user is None:
            raise NotFoundError(f"User '{username}' does not exist.")
        accounts.end_sessions(db.get_engine(), user.id)
        return {"username": user.username,
                "message": f"All sessions of {user.username} were ended."}

    _run(as_json, action)


@users_group.command("token")
@with_appcontext
@username_option
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@json_option
def token(username: str, name: str, as_json: bool) -> None:
    """Create an API token for a user and print it once (it is stored hashed)."""
    db.migrate()

    def action() -> dict[str, Any]:
        token_id, value = accounts.create_token(db.get_engine(), username, name=name)
        return {"id": token_id, "username": accounts.normalize_username(username), "name": name,
                "token": value,
                "message": f"Token {token_id} ({name}) for {username}; shown only once:\n{value}"}

    _run(as_json, action)


@users_group.command("revoke-token")
@with_appcontext
@click.option("--id", "token_id", required=True, type=int, help="The token's id.")
@json_option
def revoke_token(token_id: int, as_json: bool) -> None:
    """Revoke an API token."""
    db.migrate()

    def action() -> dict[str, Any]:
        accounts.revoke_token(db.get_engine(), token_id)
        return {"id": token_id, "message": f"Token {token_id} revoked."}

    _run(as_json, action)


@users_group.command("tokens")
@with_appcontext
@click.option("--username", help="Only this user's tokens.")
@json_option
def tokens(username: str | None, as_json: bool) -> None:
    """List API tokens (never their values)."""
    db.migrate()
    rows = accounts.list_tokens(db.get_engine(), username)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    for row in rows:
        state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
        used = f"{row['last_used_at']:%Y-%m-%d %H:%M}" if row["last_used_at"] else "never used"
        click.echo(f"{row['id']}\t{row['username']}\t{row['name']}\t{state}\t{used}")


COMMANDS = (users_group,)
