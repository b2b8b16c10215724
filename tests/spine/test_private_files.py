"""var/, the SQLite database with its -wal and -shm, the generated keys and the mail outbox
are readable by the service's user only, even under the usual umask of 022."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from strideguard.db import make_engine
from strideguard.mailsink import OutboxSink
from strideguard.private_files import create_private_file
from strideguard.settings import DEFAULT_DATABASE_URL, VAR_DIR, Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most servers run with, which makes files 0644 and folders 0755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_generated_keys_and_var_are_owner_only() -> None:
    settings = Settings()
    signing, fernet = settings.signing_key(), settings.fernet_key()
    assert _mode(VAR_DIR) == 0o700
    assert _mode(VAR_DIR / "secret.key") == 0o600
    assert _mode(VAR_DIR / "token.key") == 0o600
    # A restart reads the same keys back.
    assert (Settings().signing_key(), Settings().fernet_key()) == (signing, fernet)


def test_the_default_sqlite_database_and_its_wal_and_shm_are_owner_only() -> None:
    engine = make_engine(DEFAULT_DATABASE_URL)
    database = Path(str(engine.url.database))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    with engine.connect() as connection:  # an open connection keeps -wal and -shm in place
        assert connection.execute(text("SELECT x FROM t")).scalar() == 1
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert {str(f): _mode(f) for f in files} == {str(f): 0o600 for f in files}
    engine.dispose()
    assert _mode(database.parent) == 0o700


def test_the_mail_outbox_and_the_var_folder_it_is_made_in_are_owner_only() -> None:
    OutboxSink(Path("var/outbox"))
    assert (_mode(Path("var")), _mode(Path("var/outbox"))) == (0o700, 0o700)


def test_two_threads_generating_the_same_key_agree_on_one(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret.key"
    start = threading.Barrier(8)
    created: list[bool] = []

    def generate(value: str) -> None:
        start.wait(timeout=60)
        created.append(create_private_file(path, value))

    threads = [threading.Thread(target=generate, args=(f"key-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(created) == [False] * 7 + [True]
    assert path.read_text().startswith("key-")
    assert _mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret.key"]  # no scratch left


def test_a_sqlite_uri_is_left_to_sqlite(tmp_path: Path) -> None:
    assert Path.cwd() == tmp_path  # tests/conftest.py runs each test in its own folder
    make_engine(f"sqlite:///file:{tmp_path}/uri.db?mode=rwc&uri=true").dispose()
    assert list(tmp_path.iterdir()) == []  # no stray file or folder named after the URI
