"""`otklik token create | revoke | list`, run for real against a fresh SQLite store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from serving.database import make_engine, make_sessions
from serving.store import user_for_token
from tests.conftest import ROOT

SCRIPT = Path(sys.executable).with_name("otklik")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "serving.cli"]


def otklik(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OTKLIK_VAR_DIR": str(var)}
    return subprocess.run([*COMMAND, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_token_create_list_revoke(tmp_path: Path) -> None:
    created = otklik(tmp_path, "token", "create", "--role", "agency", "--region", "perm-krai",
                     "--agency", "health_ministry", "--name", "Минздрав")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    token = lines[-1]
    assert token.startswith("otk_") and " " not in token  # alone on the last line
    assert token not in "\n".join(lines[:-1])
    engine = make_engine(f"sqlite:///{tmp_path / 'otklik.db'}")
    sessions = make_sessions(engine)
    with sessions() as session:
        user = user_for_token(session, token)
    assert user is not None
    assert (user.name, user.role, user.region, user.agency, user.municipality) == (
        "Минздрав", "agency", "perm-krai", "health_ministry", None)

    again = otklik(tmp_path, "token", "create", "--role", "agency", "--region", "perm-krai",
                   "--agency", "health_ministry", "--name", "Минздрав")
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stdout  # the same user, one more token
    second = again.stdout.splitlines()[-1]

    other = otklik(tmp_path, "token", "create", "--role", "federal", "--name", "Минздрав")
    assert other.returncode == 2
    assert other.stderr.startswith("otklik: user 'Минздрав' exists as agency, perm-krai/health_ministry; give another")

    listed = otklik(tmp_path, "token", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "Минздрав\tagency\tperm-krai/health_ministry\t2 live tokens\n"
    assert token not in listed.stdout and second not in listed.stdout

    revoked = otklik(tmp_path, "token", "revoke", token)
    assert (revoked.returncode, revoked.stdout) == (0, "token revoked\n")
    with sessions() as session:
        assert user_for_token(session, token) is None
        assert user_for_token(session, second) == user
    engine.dispose()
    twice = otklik(tmp_path, "token", "revoke", token)
    assert twice.returncode == 2
    assert twice.stderr == "otklik: no live token like that: unknown or revoked already\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "king"], "role 'king'; one of federal, regional_admin, agency, municipal, ml"),
        (["--role", "agency", "--region", "perm-krai"], "an agency user needs an agency"),
        (["--role", "agency", "--region", "perm-krai", "--agency", "police"], "agency: unknown agency 'police'"),
        (["--role", "regional_admin", "--region", "moscow"], "region: unknown region 'moscow'"),
        (["--role", "municipal", "--region", "perm-krai", "--municipality", "65701000"],
         "municipality: region 'perm-krai' has no municipality with OKTMO '65701000'"),
        (["--role", "federal", "--region", "perm-krai"], "federal users see every region"),
    ],
)
def test_token_create_refuses_bad_scopes(tmp_path: Path, args: list[str], message: str) -> None:
    result = otklik(tmp_path, "token", "create", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
