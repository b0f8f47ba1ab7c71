"""User accounts, API tokens and login throttling: plain functions over an Engine, no Flask.

Passwords are hashed with scrypt (werkzeug).  API tokens are ``secrets.token_urlsafe(32)``
values shown once; only their SHA-256 is stored.  Every sign-in attempt is written to
``login_attempt`` so that throttling holds across worker processes.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from werkzeug.security import check_password_hash, generate_password_hash

from geo.errors import NotFoundError, PetakotaError, Problem
from webmap import store
from webmap.models import ApiToken, LoginAttempt, UserAccount

#: Roles, from widest to narrowest scope.
ROLES = ("admin", "perencana", "tim_lapangan", "lurah", "camat")
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
#: Attempts older than this are deleted when a new one is recorded.
ATTEMPT_RETENTION = timedelta(days=1)
#: A token's ``last_used_at`` is rewritten only when older than this, so that API reads do not
#: each write to the database.
TOKEN_USE_RESOLUTION = timedelta(hours=1)
# Checked against when the username is unknown, so that both paths take the same time.
_DUMMY_HASH = generate_password_hash("petakota-dummy-password", method="scrypt")


class AccountError(PetakotaError):
    """A user or token cannot be created or changed as asked (every problem listed)."""


class LoginThrottledError(PetakotaError):
    """Too many failed sign-ins for this username or address: try again after ``until``.

    ``minutes`` is the wait from ``now`` in whole minutes, rounded up (at least 1).
    """

    def __init__(self, until: datetime, *, now: datetime) -> None:
        self.until = until
        self.minutes = max(1, int((until - now).total_seconds() // 60) + 1)
        super().__init__(f"Too many failed sign-ins: try again in {self.minutes} minutes.")


@dataclass(frozen=True)
class User:
    """A user account without its password hash."""

    id: int
    username: str
    role: str
    city_kode: str | None
    kelurahan_kode: str | None
    kecamatan_kode: str | None
    active: bool


@dataclass(frozen=True)
class ThrottlePolicy:
    """Refuse sign-ins for ``lockout`` once ``max_failures`` failed within ``window``."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


# --- users ----------------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    """Hash a password with scrypt (the salt and parameters are kept in the hash)."""
    return generate_password_hash(password, method="scrypt")


def create_user(engine: Engine, *, username: str, password: str, role: str,
                city_kode: str | None = None, kelurahan_kode: str | None = None,
                kecamatan_kode: str | None = None) -> User:
    """Validate and store a new user; lurah/camat codes must exist in the city's boundaries.

    ``city_kode`` may be omitted for a non-admin when the database holds exactly one city; an
    admin sees every city and must not be given one.

    Raises
    ------
    AccountError
        Listing every problem (username taken or malformed, unknown role, short password,
        missing or unknown kelurahan/kecamatan code...).
    NotFoundError
        When the city does not exist.
    """
    username = normalize_username(username)
    with engine.begin() as conn:
        values = _validated_user(conn, username=username, password=password, role=role,
                                 city_kode=city_kode, kelurahan_kode=kelurahan_kode,
                                 kecamatan_kode=kecamatan_kode)
        table = UserAccount.__table__
        user_id = conn.execute(sa.insert(table).values(
            **values, password_hash=hash_password(password), active=True, created_at=_utcnow(),
        )).inserted_primary_key[0]
    return get_user(engine, int(user_id))


def normalize_username(username: str) -> str:
    """Usernames are compared in lower case, without surrounding spaces."""
    return (username or "").strip().lower()


def get_user(engine_or_conn: Engine | Connection, user_id: int) -> User | None:
    """The user with this id, or None."""
    table = UserAccount.__table__
    return _one_user(engine_or_conn, sa.select(table).where(table.c.id == user_id))


def find_user(engine_or_conn: Engine | Connection, username: str) -> User | None:
    """The user with this username, or None."""
    table = UserAccount.__table__
    query = sa.select(table).where(table.c.username == normalize_username(username))
    return _one_user(engine_or_conn, query)


def list_users(engine: Engine) -> list[User]:
    """All users, by username."""
    table = UserAccount.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.username)).mappings().all()
    return [_user(row) for row in rows]


def set_active(engine: Engine, username: str, active: bool) -> User:
    """Enable or disable a user; a disabled user can neither sign in nor use tokens."""
    return _update_user(engine, username, active=active)


def set_password(engine: Engine, username: str, password: str) -> User:
    """Replace a user's password."""
    problems = _password_problems(password)
    if problems:
        raise AccountError("The password cannot be used.", problems)
    return _update_user(engine, username, password_hash=hash_password(password))


def authenticate(engine: Engine, username: str, password: str, *, ip: str | None = None,
                 policy: ThrottlePolicy = ThrottlePolicy(), now: datetime | None = None
                 ) -> User | None:
    """Check a username and password, record the attempt, and return the user or None.

    Raises
    ------
    LoginThrottledError
        When the username or address is locked out; the attempt is then not checked.
    """
    now = now or _utcnow()
    username = normalize_username(username)[:80]
    until = throttled_until(engine, username=username, ip=ip, policy=policy, now=now)
    if until is not None:
        raise LoginThrottledError(until, now=now)
    with engine.begin() as conn:
        row = conn.execute(sa.select(UserAccount.__table__)
                           .where(UserAccount.username == username)).mappings().first()
        matches = check_password_hash(row["password_hash"] if row else _DUMMY_HASH, password)
        ok = bool(row is not None and matches and row["active"])
        record_attempt(conn, username=username, ip=ip, success=ok, now=now)
    return _user(row) if ok else None


# --- throttling -----------------------------------------------------------------------------------

def record_attempt(conn: Connection, *, username: str, ip: str | None, success: bool,
                   now: datetime | None = None) -> None:
    """Store one sign-in attempt and forget those older than :data:`ATTEMPT_RETENTION`."""
    now = now or _utcnow()
    table = LoginAttempt.__table__
    conn.execute(sa.delete(table).where(table.c.at < now - ATTEMPT_RETENTION))
    conn.execute(sa.insert(table).values(username=username, ip=ip, at=now, success=success))


def throttled_until(engine: Engine, *, username: str, ip: str | None,
                    policy: ThrottlePolicy = ThrottlePolicy(), now: datetime | None = None
                    ) -> datetime | None:
    """When the lockout of this username or address ends, or None when it is not locked.

    A username's failures count since its last successful sign-in; an address's failures all
    count (signing in to one's own account must not reset guessing at others').
    """
    now = now or _utcnow()
    table = LoginAttempt.__table__
    since = now - policy.window - policy.lockout
    with engine.connect() as conn:
        by_name = _failures(conn, table.c.username == normalize_username(username), since,
                            reset_on_success=True)
        by_ip = _failures(conn, table.c.ip == ip, since, reset_on_success=False) if ip else []
    ends = [end for times in (by_name, by_ip) if (end := _lockout_end(times, policy)) is not None]
    return max(ends) if ends and max(ends) > now else None


def _failures(conn: Connection, where: Any, since: datetime, *, reset_on_success: bool
              ) -> list[datetime]:
    table = LoginAttempt.__table__
    rows = conn.execute(sa.select(table.c.at, table.c.success)
                        .where(where, table.c.at >= since).order_by(table.c.at)).all()
    times: list[datetime] = []
    for at, success in rows:
        if success and reset_on_success:
            times = []
        elif not success:
            times.append(_aware(at))
    return times


def _lockout_end(failures: list[datetime], policy: ThrottlePolicy) -> datetime | None:
    """End of the latest lockout: ``max_failures`` failures within ``window`` start one."""
    n = policy.max_failures
    ends = [failures[i + n - 1] + policy.lockout for i in range(len(failures) - n + 1)
            if failures[i + n - 1] - failures[i] <= policy.window]
    return max(ends, default=None)


# --- API tokens -----------------------------------------------------------------------------------

def create_token(engine: Engine, username: str, *, name: str = "api") -> tuple[int, str]:
    """Create an API token for a user; return its id and the token, which is never stored."""
    user = find_user(engine, username)
    if user is None:
        raise NotFoundError(f"User '{username}' does not exist.")
    token = secrets.token_urlsafe(32)
    table = ApiToken.__table__
    with engine.begin() as conn:
        token_id = conn.execute(sa.insert(table).values(
            user_id=user.id, name=name[:80], token_hash=hash_token(token), created_at=_utcnow(),
        )).inserted_primary_key[0]
    return int(token_id), token


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def revoke_token(engine: Engine, token_id: int) -> None:
    """Revoke a token (kept for the record)."""
    table = ApiToken.__table__
    with engine.begin() as conn:
        result = conn.execute(sa.update(table).where(table.c.id == token_id,
                                                     table.c.revoked_at.is_(None))
                              .values(revoked_at=_utcnow()))
        if result.rowcount == 0:
            raise NotFoundError(f"API token {token_id} does not exist or is already revoked.")


def list_tokens(engine: Engine, username: str | None = None) -> list[dict[str, Any]]:
    """Tokens (without hashes), optionally of one user, with their owner's username."""
    tokens, users = ApiToken.__table__, UserAccount.__table__
    query = (sa.select(tokens.c.id, users.c.username, tokens.c.name, tokens.c.created_at,
                       tokens.c.last_used_at, tokens.c.revoked_at)
             .join(users, users.c.id == tokens.c.user_id).order_by(tokens.c.id))
    if username is not None:
        query = query.where(users.c.username == normalize_username(username))
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def find_user_by_token(engine: Engine, token: str, *, now: datetime | None = None
                       ) -> User | None:
    """The active user owning this unrevoked token, or None.

    The token's ``last_used_at`` is recorded when it is unset or older than
    :data:`TOKEN_USE_RESOLUTION`; other requests only read.
    """
    now = now or _utcnow()
    tokens, users = ApiToken.__table__, UserAccount.__table__
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(users, tokens.c.id.label("token_id"),
                      tokens.c.last_used_at.label("token_last_used_at"))
            .join(tokens, tokens.c.user_id == users.c.id)
            .where(tokens.c.token_hash == hash_token(token), tokens.c.revoked_at.is_(None),
                   users.c.active.is_(True))
        ).mappings().first()
        if row is None:
            return None
        last_used = row["token_last_used_at"]
        if last_used is None or _aware(last_used) <= now - TOKEN_USE_RESOLUTION:
            conn.execute(sa.update(tokens).where(tokens.c.id == row["token_id"])
                         .values(last_used_at=now))
            conn.commit()
    return _user(row)


# --- helpers --------------------------------------------------------------------------------------

def _validated_user(conn: Connection, *, username: str, password: str, role: str,
                    city_kode: str | None, kelurahan_kode: str | None,
                    kecamatan_kode: str | None) -> dict[str, Any]:
    """Check every field, raise one AccountError listing all problems, return the row values."""
    problems = _username_problems(conn, username) + _password_problems(password)
    if role not in ROLES:
        problems.append(Problem(f"unknown role; choose one of {', '.join(ROLES)}",
                                column="role", value=role))
    if role == "admin" and city_kode is not None:
        problems.append(Problem("only non-admins have a city; an admin sees every city",
                                column="city", value=city_kode))
        city_kode = None
    elif role != "admin":
        try:
            city_kode = store.get_city(conn, city_kode)["kode"]
        except NotFoundError as error:
            problems.append(Problem(error.message, column="city", value=city_kode))
            city_kode = None
    problems += _area_problems(conn, role, city_kode, kelurahan_kode, kecamatan_kode)
    if problems:
        raise AccountError(f"User '{username}' cannot be created.", problems)
    return {"username": username, "role": role, "city_kode": city_kode,
            "kelurahan_kode": kelurahan_kode, "kecamatan_kode": kecamatan_kode}


def _username_problems(conn: Connection, username: str) -> list[Problem]:
    if not _USERNAME.match(username):
        return [Problem("3 to 80 characters: letters, digits, '.', '_' or '-'",
                        column="username", value=username)]
    table = UserAccount.__table__
    if conn.execute(sa.select(table.c.id).where(table.c.username == username)).first():
        return [Problem("this username is taken", column="username", value=username)]
    return []


def _password_problems(password: str) -> list[Problem]:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return [Problem(f"must have at least {MIN_PASSWORD_LENGTH} characters",
                        column="password")]
    return []


def _area_problems(conn: Connection, role: str, city_kode: str | None,
                   kelurahan_kode: str | None, kecamatan_kode: str | None) -> list[Problem]:
    """Lurah need a kelurahan and camat a kecamatan of the city's current boundaries."""
    problems = []
    wanted = {"lurah": ("kelurahan", kelurahan_kode), "camat": ("kecamatan", kecamatan_kode)}
    for needing_role, (what, code) in wanted.items():
        if role == needing_role and not code:
            problems.append(Problem(f"a {role} needs a {what} code (--{what})", column=what))
        elif role != needing_role and code:
            problems.append(Problem(f"only a {needing_role} has a {what} code; "
                                    f"a {role} sees the whole city", column=what, value=code))
    if problems or role not in wanted or city_kode is None:
        return problems
    what, code = wanted[role]
    try:
        kelurahan = store.load_kelurahan(conn, city_kode)
    except NotFoundError as error:
        return [Problem(error.message, column=what, value=code)]
    known = set(kelurahan["kode" if role == "lurah" else "kecamatan_kode"].dropna())
    if code not in known:
        sample = ", ".join(sorted(known)[:5]) + (", ..." if len(known) > 5 else "")
        problems.append(Problem(f"no {what} with this code in city {city_kode}'s current "
                                f"boundaries (known: {sample or 'none'})",
                                column=what, value=code))
    return problems


def _update_user(engine: Engine, username: str, **values: Any) -> User:
    table = UserAccount.__table__
    name = normalize_username(username)
    with engine.begin() as conn:
        result = conn.execute(sa.update(table).where(table.c.username == name).values(**values))
        if result.rowcount == 0:
            raise NotFoundError(f"User '{username}' does not exist.")
    return find_user(engine, name)


def _one_user(engine_or_conn: Engine | Connection, query: Any) -> User | None:
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            return _one_user(conn, query)
    row = engine_or_conn.execute(query).mappings().first()
    return _user(row) if row else None


def _user(row: Any) -> User:
    return User(id=row["id"], username=row["username"], role=row["role"],
                city_kode=row["city_kode"], kelurahan_kode=row["kelurahan_kode"],
                kecamatan_kode=row["kecamatan_kode"], active=bool(row["active"]))


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)
