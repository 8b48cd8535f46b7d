"""FreeRADIUS 3.2 side of Backhaul: the shared ``radius`` schema and a generated server config.

``sql`` holds the DDL and every query FreeRADIUS runs; ``config`` writes a standalone config
directory for ``freeradius -f -d DIR``. Plain Python on purpose: no Django import, so the server
config can be generated and tested without the web stack.
"""
