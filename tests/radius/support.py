"""FreeRADIUS process and pyrad NAS clients for the RADIUS tests (and bench/radius.py)."""

from __future__ import annotations

import functools
import hashlib
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrad import packet as rp
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

from network.radius import config as radius_config

# pyrad cannot parse /usr/share/freeradius/dictionary (it $INCLUDEs formats pyrad lacks), but it
# reads these one by one; later files add VALUEs to attributes defined by earlier ones.
_DICTIONARIES = (
    "rfc2865",
    "rfc2866",
    "rfc2867",
    "rfc2868",
    "rfc2869",
    "rfc3162",
    "rfc3576",
    "rfc4072",
    "rfc5176",
    "rfc6911",
    "mikrotik",
)


def prerequisites_missing() -> str | None:
    if shutil.which(radius_config.FREERADIUS_BINARY) is None:
        return "freeradius is not installed (apt-get install freeradius freeradius-postgresql)"
    if not (radius_config.MODULE_DIR / "rlm_sql_postgresql.so").exists():
        return "freeradius-postgresql is not installed"
    return None


@functools.cache
def pyrad_dictionary() -> Dictionary:
    return Dictionary(*(str(radius_config.DICTIONARY_DIR / f"dictionary.{name}") for name in _DICTIONARIES))


def free_udp_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class Database:
    """Where FreeRADIUS finds PostgreSQL: libpq host (a socket directory or an address), port, name,
    and the least-privilege role it logs in as."""

    host: str
    port: int
    name: str
    user: str
    password: str | None = None


# --- FreeRADIUS process ------------------------------------------------------------------------


@dataclass
class RadiusServer:
    config_dir: Path
    auth_port: int
    acct_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 20.0) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            radius_config.server_command(self.config_dir), stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"freeradius exited ({self.process.returncode}):\n{self.log()}")
            if b"Ready to process requests" in self.log_path.read_bytes():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"freeradius not ready after {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


def start_server(db: Database, workdir: Path, **options: Any) -> RadiusServer:
    auth_port, acct_port = free_udp_ports(2)
    config_dir = radius_config.write_config(
        workdir / "raddb",
        db_host=db.host,
        db_port=db.port,
        db_name=db.name,
        db_user=db.user,
        db_password=db.password,
        auth_port=auth_port,
        acct_port=acct_port,
        **options,
    )
    server = RadiusServer(config_dir, auth_port, acct_port, workdir / "radiusd.log")
    server.start()
    return server


# --- NAS side (pyrad) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Nas:
    """A NAS as FreeRADIUS sees it: a source address and a shared secret."""

    address: str
    secret: str
    server: RadiusServer

    def client(self, *, timeout: float = 2.0, retries: int = 2) -> Client:
        client = Client(
            server="127.0.0.1",
            authport=self.server.auth_port,
            acctport=self.server.acct_port,
            secret=self.secret.encode(),
            dict=pyrad_dictionary(),
            timeout=timeout,
            retries=retries,
        )
        client.bind((self.address, 0))
        return client

    def pap(self, username: str | bytes, password: str, **kw: Any) -> rp.Packet | None:
        client = self.client(**kw)
        request = client.CreateAuthPacket(code=rp.AccessRequest)
        request.AddAttribute("User-Name", username)
        request["User-Password"] = request.PwCrypt(password)
        request["NAS-IP-Address"] = self.address
        return _send(client, request)

    def chap(self, username: str, password: str, **kw: Any) -> rp.Packet | None:
        client = self.client(**kw)
        request = client.CreateAuthPacket(code=rp.AccessRequest, User_Name=username)
        chap_id = secrets.token_bytes(1)
        challenge = secrets.token_bytes(16)
        digest = hashlib.md5(chap_id + password.encode() + challenge).digest()  # noqa: S324 - CHAP is MD5
        request["CHAP-Password"] = chap_id + digest
        request["CHAP-Challenge"] = challenge
        request["NAS-IP-Address"] = self.address
        return _send(client, request)

    def accounting(self, status: str, *, username: str, session_id: str, **attrs: Any) -> rp.Packet | None:
        client = self.client(timeout=attrs.pop("timeout", 2.0), retries=attrs.pop("retries", 2))
        request = client.CreateAcctPacket()
        request["Acct-Status-Type"] = status
        if username:
            request["User-Name"] = username
        if session_id:
            request["Acct-Session-Id"] = session_id
        request["NAS-IP-Address"] = self.address
        for name, value in attrs.items():
            request[name.replace("_", "-")] = value
        return _send(client, request)


def _send(client: Client, request: rp.Packet) -> rp.Packet | None:
    """The verified reply, or None when the server stays silent (unknown client, bad secret...)."""
    try:
        reply: rp.Packet = client.SendPacket(request)
    except Timeout:
        return None
    finally:
        client._CloseSocket()
    return reply


def reply_attrs(reply: rp.Packet) -> dict[str, list[Any]]:
    return {key: reply[key] for key in reply.keys()}  # noqa: SIM118 - pyrad Packet is not a dict
