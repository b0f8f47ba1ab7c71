"""Sessions end when they should, sign-in throttling holds under parallel attempts, weak
passwords are refused, and the session cookie is Secure over HTTPS (issue 14, defects 5-7)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.webmap.conftest import PASSWORD, make_app
from webmap import accounts
from webmap.models import LoginAttempt

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
WRONG = "salah-sandi-123"
NEW_PASSWORD = "sandi-baru-yang-panjang"


@pytest.fixture
def app(db_url, city_file, tmp_path):
    """The test city with a planner ``rina`` and an admin ``admin`` (CSRF off)."""
    from webmap.db import dispose_engine, get_engine

    app = make_app(db_url, city_file, tmp_path)
    for name, role in [("rina", "perencana"), ("admin", "admin")]:
        accounts.create_user(get_engine(app), username=name, password=PASSWORD, role=role)
    yield app
    dispose_engine(app)


def _signed_in(app, username="rina", password=PASSWORD):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def _saved_cookie(client) -> str:
    return client.get_cookie("session").value


def _replayed(app, cookie: str):
    """A new client presenting a session cookie saved earlier (as a thief would)."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def _signed_out_everywhere(app, cookie: str) -> None:
    client = _replayed(app, cookie)
    assert client.get("/api/me").status_code == 401
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")


# --- sessions end -------------------------------------------------------------------------------

def test_saved_cookie_is_refused_after_logout(app):
    client = _signed_in(app)
    cookie = _saved_cookie(client)
    assert _replayed(app, cookie).get("/api/me").status_code == 200
    assert client.post("/logout").status_code == 302
    _signed_out_everywhere(app, cookie)


def test_logout_ends_the_users_sessions_on_other_devices_too(app):
    phone, desk = _signed_in(app), _signed_in(app)
    desk_cookie = _saved_cookie(desk)
    phone.post("/logout")
    _signed_out_everywhere(app, desk_cookie)
    other_user = _signed_in(app, "admin")
    assert other_user.get("/api/me").json["username"] == "admin"  # only rina's sessions end


def test_cli_password_change_ends_every_session(app):
    cookie = _saved_cookie(_signed_in(app))
    changed = app.test_cli_runner().invoke(
        args=["users", "set-password", "--username", "rina", "--password-stdin"],
        input=NEW_PASSWORD + "\n")
    assert changed.exit_code == 0, changed.output
    _signed_out_everywhere(app, cookie)
    assert _signed_in(app, password=NEW_PASSWORD).get("/api/me").status_code == 200


def test_cli_disable_ends_every_session(app):
    cookie = _saved_cookie(_signed_in(app))
    assert app.test_cli_runner().invoke(
        args=["users", "disable", "--username", "rina"]).exit_code == 0
    _signed_out_everywhere(app, cookie)


def test_own_password_change_ends_other_sessions_and_keeps_this_one(app):
    other_cookie = _saved_cookie(_signed_in(app))
    client = _signed_in(app)
    assert client.get("/akun/kata-sandi").status_code == 200
    changed = client.post("/akun/kata-sandi", data={"current": PASSWORD, "new": NEW_PASSWORD,
                                                    "repeat": NEW_PASSWORD})
    assert changed.status_code == 302
    assert client.get("/api/me").status_code == 200
    _signed_out_everywhere(app, other_cookie)
    assert _signed_in(app, password=NEW_PASSWORD)


def test_own_password_change_needs_the_current_password(app):
    client = _signed_in(app)
    cookie = _saved_cookie(client)
    refused = client.post("/akun/kata-sandi", data={"current": WRONG, "new": NEW_PASSWORD,
                                                    "repeat": NEW_PASSWORD})
    assert refused.status_code == 422 and "Kata sandi sekarang salah" in refused.get_data(True)
    mismatch = client.post("/akun/kata-sandi", data={"current": PASSWORD, "new": NEW_PASSWORD,
                                                     "repeat": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 422 and "tidak sama" in mismatch.get_data(True)
    assert _replayed(app, cookie).get("/api/me").status_code == 200  # nothing changed
    assert _signed_in(app)


def test_admin_password_reset_and_disable_end_the_users_sessions(app):
    admin = _signed_in(app, "admin")
    admin_cookie = _saved_cookie(admin)
    cookie = _saved_cookie(_signed_in(app))
    reset = admin.post("/admin/users/kata-sandi",
                       data={"username": "rina", "password": NEW_PASSWORD})
    assert reset.status_code == 302
    _signed_out_everywhere(app, cookie)
    assert _replayed(app, admin_cookie).get("/api/me").status_code == 200
    cookie = _saved_cookie(_signed_in(app, password=NEW_PASSWORD))
    assert admin.post("/admin/users/rina/nonaktifkan").status_code == 302
    _signed_out_everywhere(app, cookie)
    assert "nonaktif" in admin.get("/admin/users").get_data(as_text=True)


def test_admin_cannot_disable_themselves_and_others_cannot_disable_anyone(app):
    admin = _signed_in(app, "admin")
    assert admin.post("/admin/users/admin/nonaktifkan").status_code == 403
    planner = _signed_in(app)
    assert planner.post("/admin/users/admin/nonaktifkan").status_code == 403
    assert planner.post("/admin/users/kata-sandi",
                        data={"username": "admin", "password": NEW_PASSWORD}).status_code == 403
    assert _signed_in(app, "admin")


def test_a_session_from_before_revocable_sessions_is_refused(app):
    """A session cookie without a session version (signed before the upgrade) ends."""
    client = _signed_in(app)
    with client.session_transaction() as session:
        del session["session_version"]
    assert client.get("/api/me").status_code == 401


# --- throttling ---------------------------------------------------------------------------------

@pytest.fixture
def users(city_engine):
    """The test city with the planners ``rina`` and ``budi``."""
    for name in ("rina", "budi"):
        accounts.create_user(city_engine, username=name, password=PASSWORD, role="perencana")
    return city_engine


def _checked_attempts(engine) -> int:
    """Sign-in attempts whose password was checked (throttled ones are not recorded)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(LoginAttempt)).scalar_one()


def _attempt(engine, username, password, *, ip, policy=accounts.ThrottlePolicy(), now=None):
    """'ok', 'wrong' or 'throttled'."""
    try:
        user = accounts.authenticate(engine, username, password, ip=ip, policy=policy, now=now)
    except accounts.LoginThrottledError:
        return "throttled"
    return "ok" if user is not None else "wrong"


def test_forty_parallel_wrong_passwords_check_only_five(users):
    with ThreadPoolExecutor(max_workers=40) as pool:
        outcomes = list(pool.map(lambda _: _attempt(users, "rina", WRONG, ip="10.0.0.9"),
                                 range(40)))
    assert outcomes.count("wrong") == 5 and outcomes.count("throttled") == 35
    assert _checked_attempts(users) == 5
    assert _attempt(users, "rina", PASSWORD, ip="10.0.0.10") == "throttled"


def test_parallel_guesses_at_many_accounts_from_one_address_stop_at_its_limit(users):
    policy = accounts.ThrottlePolicy(max_failures=5, max_failures_per_ip=12)
    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = list(pool.map(lambda i: _attempt(users, f"user{i}", WRONG, ip="10.0.0.9",
                                                    policy=policy), range(30)))
    assert outcomes.count("wrong") == 12 and _checked_attempts(users) == 12
    assert _attempt(users, "rina", PASSWORD, ip="10.0.0.9", policy=policy) == "throttled"
    assert _attempt(users, "rina", PASSWORD, ip="10.0.0.10", policy=policy) == "ok"


def test_one_locked_account_does_not_lock_out_its_office(users):
    """Per-account and per-address limits are separate (an office shares one NAT address)."""
    office = "203.0.113.7"
    for i in range(5):
        assert _attempt(users, "rina", WRONG, ip=office, now=T0 + timedelta(seconds=i)) == "wrong"
    later = T0 + timedelta(minutes=1)
    assert _attempt(users, "rina", PASSWORD, ip=office, now=later) == "throttled"
    assert _attempt(users, "rina", PASSWORD, ip="198.51.100.1", now=later) == "throttled"
    for i in range(20):  # refused attempts at the locked account do not use up the office's
        assert _attempt(users, "rina", WRONG, ip=office, now=later) == "throttled"
    assert _attempt(users, "budi", PASSWORD, ip=office, now=later) == "ok"


def test_the_address_limit_is_separate_and_larger(users):
    office = "203.0.113.7"
    policy = accounts.ThrottlePolicy(max_failures=5, max_failures_per_ip=8)
    for i in range(8):  # one failure each at eight accounts: no account is locked
        assert _attempt(users, f"user{i}", WRONG, ip=office, policy=policy,
                        now=T0 + timedelta(seconds=i)) == "wrong"
    later = T0 + timedelta(minutes=1)
    assert _attempt(users, "budi", PASSWORD, ip=office, policy=policy, now=later) == "throttled"
    # refused by the address's limit: not counted against the account elsewhere
    assert _attempt(users, "budi", PASSWORD, ip="198.51.100.1", policy=policy, now=later) == "ok"
    after = T0 + timedelta(minutes=16)
    assert _attempt(users, "budi", PASSWORD, ip=office, policy=policy, now=after) == "ok"


def test_successful_sign_ins_do_not_use_up_the_address_limit(users):
    policy = accounts.ThrottlePolicy(max_failures=5, max_failures_per_ip=3)
    for i in range(10):  # a busy office: many people signing in from one address
        assert _attempt(users, "rina", PASSWORD, ip="203.0.113.7", policy=policy,
                        now=T0 + timedelta(seconds=i)) == "ok"


def test_default_limits_are_documented_config(app):
    from webmap.auth import throttle_policy

    policy = throttle_policy(app.config)
    assert (policy.max_failures, policy.max_failures_per_ip) == (5, 50)
    assert app.config["LOGIN_MAX_FAILURES_PER_IP"] == 50


# --- weak passwords -----------------------------------------------------------------------------

@pytest.mark.parametrize(("username", "password", "codes"), [
    ("rina", "aaaaaaaaaa", ["repetitive"]),
    ("rina", "1234567890", ["common", "repetitive"]),
    ("rina", "password12", ["common"]),
    ("rina", "P@ssw0rd!!", ["common"]),
    ("rina", "qwertyuiop", ["common", "repetitive"]),
    ("rina", "abcdefghijkl", ["repetitive"]),
    ("rina.s", "rina.s", ["too_short", "context"]),
    ("rina.s", "Rina.S2026!", ["context"]),
    ("rina", "petakota2026", ["context"]),
    ("rina", "aaaa", ["too_short", "repetitive"]),
    ("rina", "kata-sandi-rahasia", []),
    ("rina", "rina-suka-kopi-pahit", []),
])
def test_password_rules(username, password, codes):
    assert [p.code for p in accounts.password_problems(password, username=username)] == codes


def test_weak_password_is_refused_with_every_reason(users):
    with pytest.raises(accounts.AccountError) as caught:
        accounts.create_user(users, username="siti", password="siti", role="perencana")
    reasons = [p.reason for p in caught.value.problems]
    assert reasons == ["terlalu pendek: minimal 10 karakter",
                       "dibuat dari nama pengguna atau nama aplikasi (petakota)"]
    assert all(p.value is None for p in caught.value.problems)  # the password is not echoed
    with pytest.raises(accounts.AccountError) as caught:
        accounts.set_password(users, "rina", "1234567890")
    assert [p.column for p in caught.value.problems] == ["password", "password"]
    assert accounts.authenticate(users, "rina", PASSWORD) is not None


def test_cli_refuses_a_weak_password_in_indonesian(app):
    result = app.test_cli_runner().invoke(
        args=["users", "set-password", "--username", "rina", "--password-stdin", "--json"],
        input="password12\n")
    assert result.exit_code == 1
    assert "paling sering dipakai" in result.output and '"code": "common"' in result.output


def test_web_pages_list_every_problem_translated(app):
    admin = _signed_in(app, "admin")
    refused = admin.post("/admin/users", data={"username": "budi", "password": "budi",
                                               "role": "perencana"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "terlalu pendek: minimal 10 karakter" in html
    assert "dibuat dari nama pengguna atau nama aplikasi (petakota)" in html
    english = admin.post("/admin/users/kata-sandi?lang=en",
                         data={"username": "rina", "password": "aaaaaaaaaa"})
    assert english.status_code == 422
    assert "only repeated or sequential characters" in english.get_data(as_text=True)
    own = _signed_in(app).post("/akun/kata-sandi", data={
        "current": PASSWORD, "new": "password12", "repeat": "password12"})
    assert own.status_code == 422 and "paling sering dipakai" in own.get_data(as_text=True)


# --- Secure cookie over HTTPS -------------------------------------------------------------------

def _login_cookie(app, **request) -> str:
    response = app.test_client().post("/login", data={"username": "rina", "password": PASSWORD},
                                      **request)
    assert response.status_code == 302
    return response.headers["Set-Cookie"]


def test_session_cookie_is_secure_over_https_only(app):
    assert "Secure" not in _login_cookie(app)
    assert "Secure" in _login_cookie(app, base_url="https://localhost")


def test_forwarded_headers_count_only_behind_a_configured_proxy(app):
    from webmap.db import get_engine

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.23"}
    assert "Secure" not in _login_cookie(app, headers=forwarded)  # no proxy: not trusted
    with get_engine(app).connect() as conn:
        assert conn.execute(sa.select(LoginAttempt.ip)).scalar_one() == "127.0.0.1"


@pytest.fixture
def proxied_app(db_url, city_file, tmp_path):
    """The app configured to run behind one reverse proxy."""
    from webmap.db import dispose_engine, get_engine

    app = make_app(db_url, city_file, tmp_path, BEHIND_PROXY=1)
    accounts.create_user(get_engine(app), username="rina", password=PASSWORD, role="perencana")
    yield app
    dispose_engine(app)


def test_behind_a_proxy_its_https_and_client_address_are_used(proxied_app):
    from webmap.db import get_engine

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.23"}
    assert "Secure" in _login_cookie(proxied_app, headers=forwarded)
    with get_engine(proxied_app).connect() as conn:
        assert conn.execute(sa.select(LoginAttempt.ip)).scalar_one() == "198.51.100.23"


def test_preferred_https_scheme_makes_the_cookie_secure(db_url, city_file, tmp_path):
    from webmap.db import dispose_engine, get_engine

    app = make_app(db_url, city_file, tmp_path, PREFERRED_URL_SCHEME="https")
    try:
        accounts.create_user(get_engine(app), username="rina", password=PASSWORD,
                             role="perencana")
        assert "Secure" in _login_cookie(app)
    finally:
        dispose_engine(app)


def test_cli_end_sessions_signs_a_user_out_everywhere(app):
    cookie = _saved_cookie(_signed_in(app))
    runner = app.test_cli_runner()
    ended = runner.invoke(args=["users", "end-sessions", "--username", "Rina"])
    assert ended.exit_code == 0 and "All sessions of rina were ended." in ended.output
    _signed_out_everywhere(app, cookie)
    assert _signed_in(app).get("/api/me").status_code == 200  # the password still works
    unknown = runner.invoke(args=["users", "end-sessions", "--username", "nobody"])
    assert unknown.exit_code == 1 and "does not exist" in unknown.output
