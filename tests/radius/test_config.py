"""network.radius.config: what it refuses to write, and how credentials reach libpq."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from network.radius import config
from tests.radius.support import Database


def _write(tmp_path: Path, **overrides: object) -> Path:
    options: dict[str, object] = {"db_host": "127.0.0.1", "db_name": "radius", "db_user": "radius_server"}
    options.update(overrides)
    return config.write_config(tmp_path / "raddb", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [
        {"db_user": "radius' host=evil"},
        {"db_name": "radius db"},
        {"db_host": "db\\host"},
        {"db_password": "two\nlines"},
        {"nas_networks": ["10.0.0.1/32"]},
        {"nas_cache_seconds": 0},
        {"listen": "not-an-address"},
    ],
)
def test_refuses_values_the_config_cannot_carry(tmp_path: Path, overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _write(tmp_path, **overrides)


def test_password_reaches_libpq_intact_and_stays_out_of_the_config(tmp_path: Path, radius_db: Database) -> None:
    password = "p:a\\ss'w$%{x}\"rd${confdir}"
    out = _write(
        tmp_path, db_host=radius_db.host, db_port=radius_db.port, db_name=radius_db.name,
        db_user=radius_db.user, db_password=password,
    )
    sql_module = (out / "mods-enabled" / "sql").read_text()
    assert password not in sql_module
    assert (out / "pgpass").stat().st_mode & 0o077 == 0
    match = re.search(r"radius_db = '([^']*)'", sql_module)
    assert match is not None

    # Trust auth or not, libpq reports the password it took from the passfile.
    with psycopg.connect(match.group(1)) as conn:
        assert conn.info.password == password


def test_every_query_is_a_plain_config_string(tmp_path: Path) -> None:
    out = _write(tmp_path)
    text = (out / "mods-enabled" / "sql").read_text()
    assert "${" not in text  # nothing for the config parser to expand at load time
    assert text.count("tenant = '%{Client-Shortname}'") >= 6
    # The tenant's own function, named by the verified client; the user name only as a quoted literal.
    assert (
        "FROM %{Client-Shortname}.radius_check('%{%{Packet-Src-IP-Address}:-%{Packet-Src-IPv6-Address}}',"
        " '%{SQL-User-Name}')" in text
    )
    assert "authorize_reply_query" not in text  # one query answers check and reply items
    assert "auto_escape = yes" in text


def test_radius_config_command_writes_a_config_for_this_database(tmp_path: Path, radius_db: Database) -> None:
    from django.core.management import CommandError, call_command

    out = tmp_path / "conf"
    call_command("radius_config", "--out", str(out), "--auth-port", "11812", "--acct-port", "11813",
                 "--listen", "127.0.0.1")
    site = (out / "sites-enabled" / "backhaul").read_text()
    assert "port = 11812" in site and "port = 11813" in site
    sql_module = (out / "mods-enabled" / "sql").read_text()
    assert f"dbname={radius_db.name}" in sql_module and f"user={radius_db.user}" in sql_module
    with pytest.raises(CommandError):
        call_command("radius_config", "--out", str(tmp_path / "bad"), "--listen", "nowhere")


def test_the_reply_policy_moves_every_reply_attribute_the_lookup_answers(tmp_path: Path) -> None:
    """radius_check returns reply items in the control list; the site's policy must move each of them."""
    import re

    from network.radius import sql, tenant_sql

    answered = set(re.findall(r"\('reply', s\.id \* 8 \+ \d, s\.key, '([A-Za-z-]+)'", sql.ANSWER_SQL))
    assert answered == set(tenant_sql.REPLY_ATTRIBUTES)
    policy = (_write(tmp_path) / "policy.d" / "backhaul").read_text()
    for name in answered:
        assert f"&{name} := &control:{name}" in policy
        assert f"&{name} !* ANY" in policy
