"""Accounts without Flask: password hashing, validation, throttling and API tokens."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from geo.errors import NotFoundError
from tests.webmap.conftest import KEL_A
from webmap import accounts
from webmap.models import ApiToken, LoginAttempt, LoginThrottle, UserAccount

PASSWORD = "kata-sandi-rahasia"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def users(city_engine):
    """The test city with a planner and a lurah of kelurahan A."""
    accounts.create_user(city_engine, username="Rina", password=PASSWORD, role="perencana")
    accounts.create_user(city_engine, username="lurah.a", password=PASSWORD, role="lurah",
                         kelurahan_kode=KEL_A)
    return city_engine


def test_password_is_stored_as_scrypt_hash_and_checked(users):
    with users.connect() as conn:
        stored = conn.execute(sa.select(UserAccount.password_hash)
                              .where(UserAccount.username == "rina")).scalar_one()
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    user = accounts.authenticate(users, "RINA ", PASSWORD, ip="10.0.0.1")
    assert user is not None and (user.role, user.city_kode) == ("perencana", "99.01")
    assert accounts.authenticate(users, "rina", "salah-sandi-123", ip="10.0.0.1") is None
    assert accounts.authenticate(users, "nobody", PASSWORD, ip="10.0.0.1") is None


def test_disabled_user_cannot_sign_in(users):
    accounts.set_active(users, "rina", False)
    assert accounts.authenticate(users, "rina", PASSWORD) is None
    with pytest.raises(NotFoundError):
        accounts.set_active(users, "nobody", False)


def test_set_password_replaces_the_old_one(users):
    accounts.set_password(users, "rina", "sandi-baru-panjang")
    assert accounts.authenticate(users, "rina", PASSWORD) is None
    assert accounts.authenticate(users, "rina", "sandi-baru-panjang") is not None
    with pytest.raises(accounts.AccountError, match="cannot be used"):
        accounts.set_password(users, "rina", "pendek")


def _fail(engine, username, n, *, ip="10.0.0.1", start=T0):
    for i in range(n):
        assert accounts.authenticate(engine, username, "salah-sandi-123", ip=ip,
                                     now=start + timedelta(seconds=i)) is None


def test_five_failures_lock_the_username_for_fifteen_minutes(users):
    _fail(users, "rina", 5)
    with pytest.raises(accounts.LoginThrottledError) as caught:
        accounts.authenticate(users, "rina", PASSWORD, ip="10.9.9.9", now=T0 + timedelta(minutes=1))
    assert caught.value.until == T0 + timedelta(seconds=4, minutes=15)
    assert caught.value.minutes == 15 and "15 minutes" in caught.value.message
    # a refused attempt is not checked, nor does it extend the lockout
    later = T0 + timedelta(minutes=15, seconds=5)
    assert accounts.authenticate(users, "rina", PASSWORD, ip="10.9.9.9", now=later) is not None


def test_four_failures_then_success_resets_the_username(users):
    _fail(users, "rina", 4)
    assert accounts.authenticate(users, "rina", PASSWORD, now=T0 + timedelta(seconds=10))
    _fail(users, "rina", 4, ip="10.0.0.2", start=T0 + timedelta(seconds=20))
    assert accounts.authenticate(users, "rina", PASSWORD, now=T0 + timedelta(seconds=30))


def test_failures_spread_over_more_than_the_window_do_not_lock(users):
    for i in range(6):
        _fail(users, "rina", 1, start=T0 + timedelta(minutes=4 * i))
    assert accounts.authenticate(users, "rina", PASSWORD, now=T0 + timedelta(minutes=25))


def test_fifty_failures_from_one_address_lock_that_address(users):
    for i in range(50):
        _fail(users, f"a{i}", 1, ip="10.6.6.6", start=T0 + timedelta(seconds=i))
    with pytest.raises(accounts.LoginThrottledError) as caught:
        accounts.authenticate(users, "rina", PASSWORD, ip="10.6.6.6", now=T0 + timedelta(minutes=2))
    assert caught.value.until == T0 + timedelta(seconds=49, minutes=15)
    assert accounts.authenticate(users, "rina", PASSWORD, ip="10.7.7.7",
                                 now=T0 + timedelta(minutes=2)) is not None


def test_policy_limits_come_from_the_caller(users):
    policy = accounts.ThrottlePolicy(max_failures=2, window=timedelta(minutes=1),
                                     lockout=timedelta(minutes=1))
    for i in range(2):
        accounts.authenticate(users, "rina", "salah-sandi-123", policy=policy,
                              now=T0 + timedelta(seconds=i))
    with pytest.raises(accounts.LoginThrottledError):
        accounts.authenticate(users, "rina", PASSWORD, policy=policy,
                              now=T0 + timedelta(seconds=30))


def test_attempts_older_than_a_day_are_pruned(users):
    _fail(users, "rina", 3)
    _fail(users, "budi", 1, ip="10.0.0.2")
    accounts.authenticate(users, "rina", PASSWORD, now=T0 + timedelta(days=2))
    with users.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(LoginAttempt)).scalar_one() == 1
        assert conn.execute(sa.select(LoginThrottle.key)).scalars().all() == []


def test_token_is_stored_hashed_finds_its_user_and_can_be_revoked(users):
    token_id, token = accounts.create_token(users, "lurah.a", name="pengukur")
    with users.connect() as conn:
        stored = conn.execute(sa.select(ApiToken.token_hash)).scalar_one()
    assert stored == hashlib.sha256(token.encode()).hexdigest() and len(token) >= 43
    user = accounts.find_user_by_token(users, token)
    assert user is not None and user.username == "lurah.a"
    [listed] = accounts.list_tokens(users, "lurah.a")
    assert listed["last_used_at"] is not None and "token_hash" not in listed
    assert accounts.find_user_by_token(users, token + "x") is None
    accounts.revoke_token(users, token_id)
    assert accounts.find_user_by_token(users, token) is None
    with pytest.raises(NotFoundError, match="already revoked"):
        accounts.revoke_token(users, token_id)


def _last_used(engine):
    with engine.connect() as conn:
        value = conn.execute(sa.select(ApiToken.last_used_at)).scalar_one()
    return value.replace(tzinfo=value.tzinfo or UTC)


def test_token_use_is_written_at_most_once_an_hour(users):
    _, token = accounts.create_token(users, "rina")
    assert accounts.find_user_by_token(users, token, now=T0).username == "rina"
    assert _last_used(users) == T0
    within = T0 + accounts.TOKEN_USE_RESOLUTION - timedelta(seconds=1)
    assert accounts.find_user_by_token(users, token, now=within).username == "rina"
    assert _last_used(users) == T0  # a read request, no write
    later = T0 + accounts.TOKEN_USE_RESOLUTION
    assert accounts.find_user_by_token(users, token, now=later) is not None
    assert _last_used(users) == later


def test_repeated_token_use_does_not_rewrite_last_used(users):
    _, token = accounts.create_token(users, "rina")
    accounts.find_user_by_token(users, token)
    first = _last_used(users)
    accounts.find_user_by_token(users, token)
    assert _last_used(users) == first


def test_token_of_disabled_user_is_refused(users):
    _, token = accounts.create_token(users, "rina")
    accounts.set_active(users, "rina", False)
    assert accounts.find_user_by_token(users, token) is None
    with pytest.raises(NotFoundError):
        accounts.create_token(users, "nobody")


def test_lurah_and_camat_areas_are_checked_against_current_boundaries(users):
    camat = accounts.create_user(users, username="camat.barat", password=PASSWORD, role="camat",
                                 kecamatan_kode="99.01.01")
    assert camat.kecamatan_kode == "99.01.01" and camat.kelurahan_kode is None
    with pytest.raises(accounts.AccountError) as caught:
        accounts.create_user(users, username="lurah.x", password=PASSWORD, role="lurah")
    assert "needs a kelurahan" in str(caught.value)
    with pytest.raises(accounts.AccountError) as caught:
        accounts.create_user(users, username="lurah.x", password=PASSWORD, role="lurah",
                             kelurahan_kode="99.01.01.9999")
    assert "no kelurahan with this code" in str(caught.value) and KEL_A in str(caught.value)
    with pytest.raises(accounts.AccountError, match="no kecamatan"):
        accounts.create_user(users, username="camat.x", password=PASSWORD, role="camat",
                             kecamatan_kode="99.01.77")


def test_every_problem_is_reported_at_once(users):
    with pytest.raises(accounts.AccountError) as caught:
        accounts.create_user(users, username="rina", password="pendek", role="perencana",
                             kelurahan_kode=KEL_A, city_kode="00.00")
    columns = sorted(p.column for p in caught.value.problems)
    assert columns == ["city", "kelurahan", "password", "username"]
    with pytest.raises(accounts.AccountError, match="unknown role"):
        accounts.create_user(users, username="x-user", password=PASSWORD, role="bupati")


def test_admin_needs_no_city(engine):
    admin = accounts.create_user(engine, username="admin", password=PASSWORD, role="admin")
    assert admin.city_kode is None and admin.role == "admin"
    with pytest.raises(accounts.AccountError, match="Choose a city"):
        accounts.create_user(engine, username="rina", password=PASSWORD, role="perencana")


def test_admin_cannot_be_given_a_city(city_engine):
    with pytest.raises(accounts.AccountError) as caught:
        accounts.create_user(city_engine, username="admin", password=PASSWORD, role="admin",
                             city_kode="99.01")
    [problem] = caught.value.problems
    assert (problem.column, problem.value) == ("city", "99.01")
    assert "admin sees every city" in str(caught.value)
    assert accounts.find_user(city_engine, "admin") is None


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def unmigrated_engine(request, tmp_path):
    """An engine on an empty database (PostGIS extension only), for migration tests."""
    from webmap.database import create_db_engine, sqlite_url

    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "old.db")
    else:
        server = request.getfixturevalue("postgis_server")
        url = server.create_database()
        server.execute("CREATE EXTENSION postgis", url.rsplit("/", 1)[1])
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


def test_migration_0008_keeps_users_downgrades_and_matches_the_models(unmigrated_engine):
    """Existing users get session version 0; the tables are what the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from webmap.database import downgrade_database, upgrade_database
    from webmap.models import Base

    engine = unmigrated_engine
    upgrade_database(engine, "0007")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO user_account (username, password_hash, role, active, "
                             "created_at) VALUES ('lama', :hash, 'admin', :yes, :at)"),
                     {"hash": accounts.hash_password(PASSWORD), "yes": True, "at": T0})
    upgrade_database(engine, "0008")
    assert accounts.find_user(engine, "lama").session_version == 0
    downgrade_database(engine, "0007")
    assert "login_throttle" not in sa.inspect(engine).get_table_names()
    assert "session_version" not in {c["name"] for c in sa.inspect(engine)
                                     .get_columns("user_account")}
    upgrade_database(engine)
    assert accounts.authenticate(engine, "lama", PASSWORD) is not None
    ours = {"user_account", "login_throttle", "login_attempt"}
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in differences if any(f"'{table}'" in repr(d) for table in ours)] == []
