"""Accounts (``movieclassifier.accounts``) and the ``users`` and ``audit`` commands, on both
backends: hashes, names, session versions, and an audit row for every change."""

from __future__ import annotations

import json

import pytest
from werkzeug.security import check_password_hash, generate_password_hash

from admin_helpers import OTHER_PASSWORD, PASSWORD
from movieclassifier import accounts, audit
from movieclassifier.schema import User


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MODEL_DIR", str(settings.model_dir))
    monkeypatch.setenv("APP_ENV", "testing")


def test_hashes_are_salted_scrypt_that_werkzeug_reads_too():
    first, second = accounts.hash_password(PASSWORD), accounts.hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt:32768:8:1$")
    assert PASSWORD not in first
    assert accounts.check_password(first, PASSWORD)
    assert not accounts.check_password(first, PASSWORD + "x")
    assert check_password_hash(first, PASSWORD)
    assert accounts.check_password(generate_password_hash(PASSWORD), PASSWORD)
    assert not accounts.check_password("not a hash", PASSWORD)


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "-dash", "名前"])
def test_bad_names_are_refused(name):
    with pytest.raises(accounts.AccountError, match="a user name is"):
        accounts.check_name(name)


def test_a_short_password_is_refused_without_repeating_it(session):
    with pytest.raises(accounts.AccountError) as refused:
        accounts.create(session, "olga", "operator", "eleven chrs")
    assert str(refused.value) == "a password needs at least 12 characters, this one has 11"


def test_roles_names_and_duplicates(session):
    with pytest.raises(accounts.AccountError, match="a role is one of operator, reviewer"):
        accounts.create(session, "olga", "admin", PASSWORD)
    accounts.create(session, "Olga", "operator", PASSWORD)
    with pytest.raises(accounts.AccountError, match="there is already a user named olga"):
        accounts.create(session, "olga", "reviewer", PASSWORD)


def test_authenticate_and_session_versions(session):
    user = accounts.create(session, "olga", "operator", PASSWORD)
    assert accounts.authenticate(session, "OLGA ", PASSWORD) is user
    assert accounts.authenticate(session, "olga", OTHER_PASSWORD) is None
    assert accounts.authenticate(session, "nobody", PASSWORD) is None
    assert accounts.authenticate(session, "a b", PASSWORD) is None
    version = user.session_version
    assert accounts.session_user(session, user.id, version) is user
    assert accounts.session_user(session, str(user.id), version) is None
    accounts.end_sessions(session, user.id)
    assert accounts.session_user(session, user.id, version) is None
    accounts.set_password(session, "olga", OTHER_PASSWORD)
    assert accounts.session_user(session, user.id, version + 1) is None
    assert accounts.authenticate(session, "olga", OTHER_PASSWORD) is user
    accounts.disable(session, "olga")
    assert accounts.authenticate(session, "olga", OTHER_PASSWORD) is None
    assert accounts.session_user(session, user.id, user.session_version) is None


def test_users_create_from_stdin_list_disable_and_set_password(runner, env, sessions):
    created = runner.invoke(
        args=["users", "create", "Olga", "--role", "operator", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output
    assert created.output == "created operator olga\n"
    prompted = runner.invoke(
        args=["users", "create", "remi", "--role", "reviewer"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output

    listed = runner.invoke(args=["users", "list"])
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["name", "role", "state", "last", "login"]
    assert lines[1].split() == ["olga", "operator", "enabled", "never"]
    assert lines[2].split() == ["remi", "reviewer", "enabled", "never"]
    as_json = json.loads(runner.invoke(args=["users", "list", "--json"]).output)
    assert as_json[0] == {
        "name": "olga",
        "role": "operator",
        "disabled": False,
        "last_login_at": None,
    }
    with sessions() as session:
        stored = session.query(User).filter_by(name="olga").one().password_hash
    assert stored not in listed.output and "scrypt" not in listed.output

    changed = runner.invoke(
        args=["users", "set-password", "olga", "--password-stdin"], input=OTHER_PASSWORD + "\n"
    )
    assert changed.exit_code == 0, changed.output
    disabled = runner.invoke(args=["users", "disable", "remi"])
    assert disabled.output == "disabled remi; its sessions are ended\n"
    with sessions() as session:
        assert accounts.authenticate(session, "olga", OTHER_PASSWORD) is not None
        assert accounts.get(session, "remi").disabled
        rows = audit.recent(session)
    assert [(row.action, row.target, row.address) for row in rows] == [
        (audit.USER_DISABLE, "user remi", "cli"),
        (audit.USER_SET_PASSWORD, "user olga", "cli"),
        (audit.USER_CREATE, "user remi", "cli"),
        (audit.USER_CREATE, "user olga", "cli"),
    ]
    assert all(row.actor.startswith("cli:") for row in rows)


def test_the_commands_refuse_short_passwords_and_unknown_users(runner, env, sessions):
    short = runner.invoke(
        args=["users", "create", "olga", "--role", "operator", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code == 1
    assert "a password needs at least 12 characters, this one has 5" in short.output
    mismatch = runner.invoke(
        args=["users", "create", "olga", "--role", "operator"], input=f"{PASSWORD}\nother\n"
    )
    assert mismatch.exit_code == 1 or "do not match" in mismatch.output.lower()
    for command in (["disable", "ghost"], ["set-password", "ghost", "--password-stdin"]):
        missing = runner.invoke(args=["users", *command], input=PASSWORD + "\n")
        assert missing.exit_code == 1
        assert 'there is no user named ghost; see "users list"' in missing.output
    with sessions() as session:
        assert accounts.listed(session) == [] and audit.recent(session) == []


def test_the_audit_command_prints_rows_newest_first_and_filters(runner, env, sessions):
    with sessions.begin() as session:
        audit.record(session, "olga", audit.LOGIN, "user olga", "operator", "192.0.2.7")
        audit.record(session, "olga", audit.APPROVE, "feedback 3, 4", "2 rows", "192.0.2.7")
    printed = runner.invoke(args=["audit"])
    assert printed.exit_code == 0
    lines = printed.output.splitlines()
    assert lines[0].endswith("olga  approve  feedback 3, 4  2 rows  192.0.2.7")
    assert lines[1].endswith("olga  login  user olga  operator  192.0.2.7")
    only = json.loads(runner.invoke(args=["audit", "--action", "login", "--json"]).output)
    assert [row["action"] for row in only] == ["login"]
    assert runner.invoke(args=["audit", "--actor", "nobody"]).output == "the audit log is empty\n"


def test_audit_refuses_an_unknown_action(session):
    with pytest.raises(ValueError, match="audit action must be one of"):
        audit.record(session, "olga", "edit")
