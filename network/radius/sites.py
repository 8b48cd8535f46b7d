"""unlang for the generated FreeRADIUS config: the Backhaul site, the NAS-lookup site, policies."""

from __future__ import annotations

import ipaddress

from network.radius import sql
from network.radius.tenant_sql import REPLY_ATTRIBUTES

SERVER = "backhaul"
# Virtual server that defines NAS clients from radius.nas (FreeRADIUS's dynamic_clients).
CLIENTS_SERVER = "backhaul_clients"


def config_string(value: str) -> str:
    """A double-quoted config string, expanded at run time (xlat) but not at parse time."""
    if "${" in value or '"' in value or "\\" in value or "\n" in value:
        raise ValueError(f"query template cannot be written as a config string: {value[:60]}")
    return f'"{value}"'


def always_module() -> str:
    # unlang's ok / reject / noop / fail are instances of the "always" module.
    codes = ("ok", "reject", "fail", "noop", "handled", "updated", "notfound", "invalid", "userlock")
    return "".join(f"always {code} {{\n\trcode = {code}\n}}\n" for code in codes)


REPLY_POLICY = "backhaul_reply_items"


def _reply_items_policy() -> str:
    """rlm_sql puts every row of the one authorize query in the control list; the reply attributes
    move from there to the reply (an absent one is skipped)."""
    copy = "".join(f"\t\t&{name} := &control:{name}\n" for name in REPLY_ATTRIBUTES)
    drop = "".join(f"\t\t&{name} !* ANY\n" for name in REPLY_ATTRIBUTES)
    return f"{REPLY_POLICY} {{\n\tupdate reply {{\n{copy}\t}}\n\tupdate control {{\n{drop}\t}}\n}}\n"


def policies() -> str:
    # Stock acct_unique without the Class round-trip: the tenant column already separates
    # sessions of different ISPs, so the hash only has to be unique within one tenant.
    return _reply_items_policy() + """acct_unique {
	update request {
		&Acct-Unique-Session-Id := "%{md5:%{User-Name},%{Acct-Session-ID},%{%{NAS-IPv6-Address}:-%{NAS-IP-Address}},%{NAS-Identifier},%{NAS-Port-ID},%{NAS-Port}}"
	}
}
"""


def site(listen_ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *, auth_port: int, acct_port: int) -> str:
    key = "ipaddr" if listen_ip.version == 4 else "ipv6addr"
    # Listeners live here, not on the command line: -i/-p listeners have no clients and
    # reject everything.
    return f"""server {SERVER} {{
	listen {{
		type = auth
		{key} = {listen_ip}
		port = {auth_port}
	}}
	listen {{
		type = acct
		{key} = {listen_ip}
		port = {acct_port}
	}}

	authorize {{
		# Non-UTF-8 attribute values never reach SQL (PostgreSQL would refuse the query).
		utf8 {{
			fail = 1
		}}
		if (fail) {{
			update control {{
				&Tmp-Integer-9 := 1
			}}
			reject
		}}
		sql
		if (notfound) {{
			reject
		}}
		{REPLY_POLICY}
		chap
		pap
	}}

	authenticate {{
		Auth-Type PAP {{
			pap
		}}
		Auth-Type CHAP {{
			chap
		}}
	}}

	preacct {{
		utf8
		acct_unique
	}}

	# Only sql: if it stored nothing (noop) or failed, no Accounting-Response is sent and the
	# NAS retries. Another module returning ok here would acknowledge lost records.
	accounting {{
		sql
	}}

	post-auth {{
		sql
		Post-Auth-Type REJECT {{
			# Reply items were read during authorize; a reject must not carry them.
			update {{
				&reply: !* ANY
			}}
			# A request utf8 refused is not logged: its name cannot be stored as text.
			if (!&control:Tmp-Integer-9) {{
				sql
			}}
		}}
	}}
}}
"""


def clients_site() -> str:
    q = {key: config_string(f"%{{sql:{text}}}") for key, text in sql.DYNAMIC_CLIENT_QUERIES.items()}
    return f"""# Defines a NAS client from radius.nas the first time its address sends a packet.
# The request here is synthetic: only Packet-Src-IP(v6)-Address is meaningful.
server {CLIENTS_SERVER} {{
	authorize {{
		if ({q["shortname"]} != "") {{
			if (&Packet-Src-IP-Address) {{
				update control {{
					&FreeRADIUS-Client-IP-Address = "%{{Packet-Src-IP-Address}}"
				}}
			}}
			else {{
				update control {{
					&FreeRADIUS-Client-IPv6-Address = "%{{Packet-Src-IPv6-Address}}"
				}}
			}}
			update control {{
				&FreeRADIUS-Client-Shortname = {q["shortname"]}
				&FreeRADIUS-Client-Secret = {q["secret"]}
				&FreeRADIUS-Client-NAS-Type = {q["nas_type"]}
				&FreeRADIUS-Client-Require-MA = {q["require_ma"]}
			}}
			ok
		}}
		else {{
			noop
		}}
	}}
}}
"""
