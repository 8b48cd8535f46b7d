"""Writes a complete, standalone FreeRADIUS 3.2 configuration directory for Backhaul.

Run it with ``freeradius -f -l stdout -d DIR`` (see :func:`server_command`). Nothing is read
from /etc/freeradius: Debian's radiusd.conf hard-codes ``raddbdir``, so the whole tree is
generated. Only the Debian packages' dictionaries (/usr/share/freeradius) and modules
(/usr/lib/freeradius) are used.

NAS clients come from ``radius.nas`` through FreeRADIUS's *dynamic clients*: a packet from an
address inside ``nas_networks`` that is not yet known triggers a lookup in ``radius.nas``
(virtual server ``backhaul_clients``); the result is cached for ``nas_cache_seconds`` and
looked up again afterwards. So a new NAS answers on its first packet, and a changed secret,
moved or deleted NAS takes effect within ``nas_cache_seconds`` - no reload, no restart.
(``read_clients = yes`` only loads clients at start, and SIGHUP does not reload clients in 3.x;
a client loaded that way shadows the dynamic lookup for its address until restart.)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from pathlib import Path

from network.radius import sql
from network.radius.sites import CLIENTS_SERVER, SERVER, always_module, clients_site, config_string, policies, site

FREERADIUS_BINARY = "freeradius"
DICTIONARY_DIR = Path("/usr/share/freeradius")
MODULE_DIR = Path("/usr/lib/freeradius")
# 1,024 NASes x 256 ids, or 50,000 requests/s for cleanup_delay (5 s).
MAX_REQUESTS = 262_144


def server_command(config_dir: Path) -> list[str]:
    """Foreground, multi-threaded, logging to stdout (``-X`` would be single-threaded)."""
    return [FREERADIUS_BINARY, "-f", "-l", "stdout", "-d", str(config_dir)]


def write_config(
    out_dir: Path,
    *,
    db_host: str,
    db_port: int = 5432,
    db_name: str,
    db_user: str,
    db_password: str | None = None,
    auth_port: int = 1812,
    acct_port: int = 1813,
    listen: str = "127.0.0.1",
    nas_networks: Sequence[str] = ("0.0.0.0/0",),
    nas_cache_seconds: int = 60,
    read_clients: bool = False,
    reject_delay: float = 1.0,
    threads: int = 32,
    db_pool_max: int = 16,
    authorize_check_query: str = sql.AUTHORIZE_CHECK_QUERY,
    authorize_reply_query: str | None = None,
) -> Path:
    """Write radiusd.conf and everything it includes into ``out_dir``; return ``out_dir``.

    ``db_host`` may be a host name, an address or a unix socket directory (libpq ``host=``).
    ``listen`` is the address for both the auth and the acct socket. ``reject_delay`` is
    FreeRADIUS's delay before an Access-Reject (0 for tests and benchmarks).
    ``authorize_*_query`` exist for benchmarking the stock flat-table queries; keep the defaults.
    """
    if nas_cache_seconds < 1:
        # lifetime = 0 would mean "never expire": changes would then need a restart.
        raise ValueError("nas_cache_seconds must be >= 1")
    listen_ip = ipaddress.ip_address(listen)
    networks = [ipaddress.ip_network(n) for n in nas_networks]
    for net in networks:
        if net.prefixlen == net.max_prefixlen:
            raise ValueError(f"nas_networks entry {net} must be a network, not a single host")
    out_dir = out_dir.resolve()
    _check_path(out_dir)
    for sub in ("mods-enabled", "sites-enabled", "policy.d", "log", "run"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    out_dir.chmod(0o700)  # holds the database password; radiusd also refuses world-writable dirs

    passfile = out_dir / "pgpass" if db_password is not None else None
    conninfo = _conninfo(host=db_host, port=db_port, dbname=db_name, user=db_user, passfile=passfile)
    files = {
        "radiusd.conf": _radiusd_conf(out_dir, reject_delay=reject_delay, threads=threads),
        "dictionary": "# Local attributes (none yet); the packaged dictionaries load first.\n",
        "clients.conf": _clients_conf(networks, lifetime=nas_cache_seconds),
        "mods-enabled/sql": _sql_module(
            conninfo,
            read_clients=read_clients,
            pool_max=db_pool_max,
            check_query=authorize_check_query,
            reply_query=authorize_reply_query,
        ),
        "mods-enabled/pap": "pap {\n\tnormalise = yes\n}\n",
        "mods-enabled/chap": "chap {\n}\n",
        "mods-enabled/utf8": "utf8 {\n}\n",
        # tolower, integer and friends used by the queries are xlats of rlm_expr.
        "mods-enabled/expr": "expr {\n}\n",
        "mods-enabled/always": always_module(),
        "policy.d/backhaul": policies(),
        f"sites-enabled/{SERVER}": site(listen_ip, auth_port=auth_port, acct_port=acct_port),
        f"sites-enabled/{CLIENTS_SERVER}": clients_site(),
    }
    if db_password is not None:
        files["pgpass"] = _pgpass_line(dbname=db_name, user=db_user, password=db_password)
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text)
        path.chmod(0o600)
    return out_dir


# --- quoting ---------------------------------------------------------------------------------

_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+-]+$")


def _check_path(path: Path) -> None:
    if not _SAFE_PATH.match(str(path)):
        raise ValueError(f"config path {path} has characters FreeRADIUS config cannot carry")


def _single(value: str) -> str:
    """A single-quoted config string: no ${...} or %{...} expansion.

    FreeRADIUS 3.2 unescapes only \\' inside single quotes (other backslashes stay as they are),
    so values with quotes or backslashes are refused rather than escaped.
    """
    if any(c in value for c in "'\\\n\r"):
        raise ValueError("config value cannot contain quotes, backslashes or line breaks")
    return f"'{value}'"


_SAFE_CONNINFO_VALUE = re.compile(r"^[A-Za-z0-9_./:@+-]+$")


def _conninfo(*, host: str, port: int, dbname: str, user: str, passfile: Path | None) -> str:
    # A radius_db containing '=' goes to PQconnectdb as is: this is how a unix socket directory
    # (host=/run/postgresql) gets through. The password stays out of it (and out of -X output):
    # libpq reads it from a pgpass file, which has no quoting trouble.
    parts = {"host": host, "port": str(port), "dbname": dbname, "user": user, "connect_timeout": "5"}
    if passfile is not None:
        parts["passfile"] = str(passfile)
    for key, value in parts.items():
        if not _SAFE_CONNINFO_VALUE.match(value):
            raise ValueError(f"database {key} {value!r} has characters the config cannot carry")
    return " ".join(f"{key}={value}" for key, value in parts.items())


def _pgpass_line(*, dbname: str, user: str, password: str) -> str:
    if "\n" in password or "\r" in password:
        raise ValueError("database password cannot contain a line break")

    def field(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:")

    return f"*:*:{field(dbname)}:{field(user)}:{field(password)}\n"


# --- files -----------------------------------------------------------------------------------


def _radiusd_conf(out_dir: Path, *, reject_delay: float, threads: int) -> str:
    spare = max(1, min(threads // 4, 10))
    return f"""# Generated by network.radius.config - do not edit.
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = "{out_dir}"
confdir = ${{raddbdir}}
modconfdir = ${{confdir}}/mods-config
logdir = "{out_dir}/log"
radacctdir = ${{logdir}}/radacct
run_dir = "{out_dir}/run"
db_dir = ${{raddbdir}}
libdir = {MODULE_DIR}
name = freeradius
pidfile = ${{run_dir}}/${{name}}.pid

max_request_time = 30
cleanup_delay = 5
# Requests are tracked (for duplicate detection) until cleanup_delay after their reply, so at R
# requests/s about 5 * R are held; past max_requests new packets are dropped. FreeRADIUS suggests
# 256 per client; a hosted platform has hundreds of NASes and thousands of requests/s.
max_requests = {MAX_REQUESTS}
hostname_lookups = no
proxy_requests = no

log {{
	destination = files
	file = ${{logdir}}/radius.log
	colourise = no
	stripped_names = no
	auth = no
	auth_badpass = no
	auth_goodpass = no
}}

security {{
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = {reject_delay:g}
	status_server = yes
}}

thread pool {{
	start_servers = {min(5, threads)}
	max_servers = {threads}
	min_spare_servers = {spare}
	max_spare_servers = {max(spare, min(threads, 10))}
	max_requests_per_server = 0
	auto_limit_acct = no
}}

$INCLUDE clients.conf

modules {{
	$INCLUDE mods-enabled/
}}

instantiate {{
}}

policy {{
	$INCLUDE policy.d/
}}

$INCLUDE sites-enabled/
"""


def _clients_conf(networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network], *, lifetime: int) -> str:
    blocks = []
    for i, net in enumerate(networks):
        key = "ipaddr" if net.version == 4 else "ipv6addr"
        blocks.append(
            f"""client nas_network_{i} {{
	{key} = {net}
	dynamic_clients = {CLIENTS_SERVER}
	lifetime = {lifetime}
	# One lookup per second at most would stall every NAS after a restart; keep the
	# RADIUS ports firewalled to NAS networks instead.
	rate_limit = no
}}
"""
        )
    return "# Generated. No static clients: every NAS comes from radius.nas.\n\n" + "\n".join(blocks)


def _sql_module(
    conninfo: str, *, read_clients: bool, pool_max: int, check_query: str, reply_query: str | None
) -> str:
    def queries(templates: Sequence[str]) -> str:
        return "".join(f"\t\t\t\tquery = {config_string(q)}\n" for q in templates)

    types = "".join(
        f"\t\t\t{status} {{\n{queries(templates)}\t\t\t}}\n" for status, templates in sql.ACCOUNTING_QUERIES.items()
    )
    start = min(5, pool_max)
    reply_line = "" if reply_query is None else f"\tauthorize_reply_query = {config_string(reply_query)}\n"
    return f"""sql {{
	dialect = "postgresql"
	driver = "rlm_sql_postgresql"
	radius_db = {_single(conninfo)}

	# Escape %{{...}} values with PQescapeStringConn instead of rlm_sql's =XX mime encoding.
	auto_escape = yes
	sql_user_name = "%{{User-Name}}"
	read_groups = no
	read_profiles = no
	delete_stale_sessions = no

	read_clients = {"yes" if read_clients else "no"}
	client_query = {config_string(sql.CLIENT_QUERY)}

	postgresql {{
		send_application_name = yes
	}}

	pool {{
		start = {start}
		min = {start}
		max = {pool_max}
		spare = {max(1, pool_max - start)}
		uses = 0
		retry_delay = 1
		lifetime = 0
		idle_timeout = 60
	}}

	# One query answers check and reply items (the site moves the reply ones); a reply query is
	# only configured for the stock flat-table baseline of bench/radius.py.
	authorize_check_query = {config_string(check_query)}
{reply_line}
	accounting {{
		reference = "%{{tolower:type.%{{Acct-Status-Type}}.query}}"
		type {{
{types}		}}
	}}

	post-auth {{
		reference = ".query"
		query = {config_string(sql.POST_AUTH_QUERY)}
	}}
}}
"""
