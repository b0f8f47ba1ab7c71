"""User accounts, API tokens and login throttling: plain functions over an Engine, no Flask.

Passwords are hashed with scrypt (werkzeug) and follow NIST SP 800-63B section 5.1.1.2: at least
:data:`MIN_PASSWORD_LENGTH` characters, none of the 30,000 most common passwords (the list the
``zxcvbn`` package ships), not only repeated or sequential characters, not built on the
username or the application's name, and no composition rules.

Sessions are revocable: ``user_account.session_version`` is copied into a session at sign-in,
and sign-out, a password change or disabling raise it (:func:`end_sessions`), which ends every
session holding the older number.

Sign-ins are throttled per account and per address with separate limits.  Before a password is
checked, one atomic upsert per key raises the key's counter in ``login_throttle`` (one row per
``account:<username>`` and ``ip:<address>``); an attempt whose count passes the limit is
refused unchecked, so parallel attempts (several workers, threads) cannot check more passwords
than the limit.  A success clears the account's counter and takes the attempt back from the
address's.  Every checked attempt is also written to ``login_attempt`` for the record.

API tokens are ``secrets.token_urlsafe(32)`` values shown once; only their SHA-256 is stored.
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
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS
from zxcvbn.matching import omnimatch

from geo.errors import NotFoundError, PetakotaError, Problem
from webmap import store
from webmap.models import ApiToken, LoginAttempt, LoginThrottle, UserAccount

#: Roles, from widest to narrowest scope.
ROLES = ("admin", "perencana", "tim_lapangan", "lurah", "camat")
MIN_PASSWORD_LENGTH = 10
#: The application's name, which a password must not be built on.
APP_NAME = "petakota"
#: Only the first characters of a password are searched for patterns (zxcvbn's own limit).
_PATTERN_SEARCH_LENGTH = 72
_COMMON_PASSWORDS = frozenset(FREQUENCY_LISTS["passwords"])
#: A common password with fewer characters than this added is still a common password.
_FEW_ADDED_CHARACTERS = 4


def N_(text: str) -> str:  # noqa: N802 - the marker pybabel extracts (make translations)
    """Mark a text for translation where it is defined; it is translated where it is shown."""
    return text


#: Why a password is refused, in Indonesian (the web translates them with gettext).
WEAK_PASSWORD_REASONS = {
    "too_short": N_("terlalu pendek: minimal %(min)s karakter"),
    "common": N_("termasuk kata sandi yang paling sering dipakai (dan paling dulu ditebak)"),
    "repetitive": N_("hanya berisi karakter yang berulang atau berurutan "
                     "(misalnya aaaa, 1234, abcd, qwerty)"),
    "context": N_("dibuat dari nama pengguna atau nama aplikasi (petakota)"),
}
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
class PasswordProblem(Problem):
    """A reason a password is refused; ``code`` is a key of :data:`WEAK_PASSWORD_REASONS`."""

    code: str = ""


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
    session_version: int = 0


@dataclass(frozen=True)
class ThrottlePolicy:
    """Refuse sign-ins for ``lockout`` once ``max_failures`` failed within ``window``.

    ``max_failures`` counts the failures of one account (from any address);
    ``max_failures_per_ip`` those from one address (for any account), much higher so that one
    person's mistakes do not lock out a whole office behind one NAT address.  A window starts
    at the first failure and lasts ``window``.
    """

    max_failures: int = 5
    max_failures_per_ip: int = 50
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
    """Enable or disable a user; disabling ends every session, and tokens stop working."""
    if active:
        return _update_user(engine, username, active=True)
    return _update_user(engine, username, active=False, session_version=_next_session_version())


def set_password(engine: Engine, username: str, password: str) -> User:
    """Replace a user's password and end every session of the user.

    A caller that keeps its own session open stores the returned ``session_version`` in it.
    """
    problems = password_problems(password, username=username)
    if problems:
        raise AccountError("The password cannot be used.", problems)
    return _update_user(engine, username, password_hash=hash_password(password),
                        session_version=_next_session_version())


def end_sessions(engine: Engine, user_id: int) -> None:
    """End every session of a user (sign-out): sessions hold an older session version now."""
    table = UserAccount.__table__
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == user_id)
                     .values(session_version=_next_session_version()))


def session_is_current(account: User | None, session_version: Any) -> bool:
    """Whether a session holding ``session_version`` still belongs to an active ``account``."""
    return (account is not None and account.active
            and isinstance(session_version, int) and session_version == account.session_version)


def password_problems(password: str, *, username: str = "") -> list[PasswordProblem]:
    """Every reason to refuse this password (NIST SP 800-63B), or an empty list.

    Too short; one of the most common passwords (also reversed, capitalised or with l33t
    substitutions); only repeated, sequential or keyboard-row characters; or the username or
    the application's name with fewer than :data:`MIN_PASSWORD_LENGTH` other characters.
    """
    codes = []
    if len(password or "") < MIN_PASSWORD_LENGTH:
        codes.append("too_short")
    if password:
        codes += _pattern_codes(password[:_PATTERN_SEARCH_LENGTH])
    if password and _built_on_context(password, normalize_username(username)):
        codes.append("context")
    return [PasswordProblem(WEAK_PASSWORD_REASONS[code] % {"min": MIN_PASSWORD_LENGTH},
                            column="password", code=code) for code in codes]


def authenticate(engine: Engine, username: str, password: str, *, ip: str | None = None,
                 policy: ThrottlePolicy = ThrottlePolicy(), now: datetime | None = None
                 ) -> User | None:
    """Check a username and password, record the attempt, and return the user or None.

    The attempt is counted against the account and the address (atomically, in the database)
    before the password is checked.

    Raises
    ------
    LoginThrottledError
        When the account or the address is locked out; the password is then not checked.
    """
    now = now or _utcnow()
    username = normalize_username(username)[:80]
    keys = _throttle_keys(username, ip, policy)
    with engine.begin() as conn:
        until = _reserve_attempt(conn, keys, policy=policy, now=now)
    if until is not None:
        raise LoginThrottledError(until, now=now)
    with engine.connect() as conn:
        row = conn.execute(sa.select(UserAccount.__table__)
                           .where(UserAccount.username == username)).mappings().first()
    # checked outside any transaction: SQLite cannot turn a read into a write after another
    # connection wrote, and scrypt takes long enough for that to happen under load
    matches = check_password_hash(row["password_hash"] if row else _DUMMY_HASH, password)
    ok = bool(row is not None and matches and row["active"])
    with engine.begin() as conn:
        _settle_attempt(conn, keys, success=ok, policy=policy, now=now)
        record_attempt(conn, username=username, ip=ip, success=ok, now=now)
    return _user(row) if ok else None


# --- throttling -----------------------------------------------------------------------------------

def record_attempt(conn: Connection, *, username: str, ip: str | None, success: bool,
                   now: datetime | None = None) -> None:
    """Store one checked sign-in attempt; forget attempts and counters older than a day."""
    now = now or _utcnow()
    table, counters = LoginAttempt.__table__, LoginThrottle.__table__
    conn.execute(sa.delete(table).where(table.c.at < now - ATTEMPT_RETENTION))
    conn.execute(sa.delete(counters).where(counters.c.resets_at < now - ATTEMPT_RETENTION))
    conn.execute(sa.insert(table).values(username=username, ip=ip, at=now, success=success))


def _throttle_keys(username: str, ip: str | None, policy: ThrottlePolicy
                   ) -> list[tuple[str, int]]:
    """The counters an attempt is counted against, with their limits: account, then address."""
    keys = [(f"account:{username}", policy.max_failures)]
    if ip:
        keys.append((f"ip:{ip[:45]}", policy.max_failures_per_ip))
    return keys


def _reserve_attempt(conn: Connection, keys: list[tuple[str, int]], *,
                     policy: ThrottlePolicy, now: datetime) -> datetime | None:
    """Count an attempt against every key; when one is over its limit, when that lockout ends.

    The keys are taken in the same order by every attempt (no deadlocks on PostgreSQL).  An
    attempt refused by the address's limit is taken back from the account's count, and one
    refused by the account's limit is not counted against the address.
    """
    counted: list[str] = []
    for key, limit in keys:
        failures, resets_at = _count_attempt(conn, key, policy=policy, now=now)
        if failures > limit:
            for earlier in counted:
                _uncount_attempt(conn, earlier)
            return _aware(resets_at)
        counted.append(key)
    return None


def _count_attempt(conn: Connection, key: str, *, policy: ThrottlePolicy, now: datetime
                   ) -> tuple[int, datetime]:
    """Raise ``key``'s counter in one statement (a new window once the last one ended)."""
    table = LoginThrottle.__table__
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    ended = table.c.resets_at <= now
    statement = dialect.insert(table).values(key=key, failures=1, resets_at=now + policy.window)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"failures": sa.case((ended, 1), else_=table.c.failures + 1),
              "resets_at": sa.case((ended, statement.excluded.resets_at),
                                   else_=table.c.resets_at)})
    row = conn.execute(statement.returning(table.c.failures, table.c.resets_at)).one()
    return int(row.failures), row.resets_at


def _uncount_attempt(conn: Connection, key: str) -> None:
    table = LoginThrottle.__table__
    conn.execute(sa.update(table).where(table.c.key == key, table.c.failures > 0)
                 .values(failures=table.c.failures - 1))


def _settle_attempt(conn: Connection, keys: list[tuple[str, int]], *, success: bool,
                    policy: ThrottlePolicy, now: datetime) -> None:
    """After the check: a success clears the account and takes the attempt back from the
    address; a failure that reaches a limit locks that key for ``policy.lockout``."""
    table = LoginThrottle.__table__
    (account_key, _), *address = keys
    if success:
        conn.execute(sa.delete(table).where(table.c.key == account_key))
        for key, _limit in address:
            _uncount_attempt(conn, key)
        return
    lock_end = now + policy.lockout
    for key, limit in keys:
        conn.execute(sa.update(table)
                     .where(table.c.key == key, table.c.failures >= limit,
                            table.c.resets_at < lock_end)
                     .values(resets_at=lock_end))


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
    problems = [*_username_problems(conn, username),
                *password_problems(password, username=username)]
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


def _pattern_codes(password: str) -> list[str]:
    """``common`` and/or ``repetitive``, from the patterns zxcvbn finds in the password.

    Common: one of the most common passwords, or one with fewer than
    :data:`_FEW_ADDED_CHARACTERS` characters added (``iloveyou12``, ``P@ssw0rd!!``).
    Repetitive: one repeated, sequential or keyboard-row run covers the whole password, or
    such runs make up all of it.
    """
    matches = omnimatch(password)
    common = [m for m in matches if m.get("dictionary_name") == "passwords"]
    longest_common = max((m["j"] - m["i"] + 1 for m in common), default=0)
    codes = []
    if (password.lower() in _COMMON_PASSWORDS
            or len(password) - longest_common < _FEW_ADDED_CHARACTERS):
        codes.append("common")
    runs = ("repeat", "sequence", "spatial")
    whole_run = any(m["pattern"] in runs and m["i"] == 0 and m["j"] == len(password) - 1
                    for m in matches)
    if whole_run or all(m["pattern"] in runs for m in zxcvbn(password)["sequence"]):
        codes.append("repetitive")
    return codes


def _built_on_context(password: str, username: str) -> bool:
    """Whether the username or the app's name plus a few characters make the whole password."""
    rest = password.lower()
    names = [name for name in (username, APP_NAME) if name]
    if not any(name in rest for name in names):
        return False
    for name in names:
        rest = rest.replace(name, "")
    return len(rest) < MIN_PASSWORD_LENGTH


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
                kecamatan_kode=row["kecamatan_kode"], active=bool(row["active"]),
                session_version=int(row["session_version"]))


def _next_session_version() -> Any:
    """The SQL expression that ends a user's sessions: the session version plus one."""
    return UserAccount.__table__.c.session_version + 1


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)
