"""CALLCENTRE_DATABASE_URL as libpq's environment variables, printed as shell `export` lines
(deploy/pg-env.sh evaluates them): the backup scripts connect as the server does."""

import os
import shlex
import sys
from urllib.parse import parse_qs, unquote, urlsplit

parts = urlsplit(os.environ["CALLCENTRE_DATABASE_URL"])
if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
    sys.exit(
        f"CALLCENTRE_DATABASE_URL is not PostgreSQL ({parts.scheme}://): these scripts back up "
        "PostgreSQL; a SQLite database is one file (stop the server, copy it)"
    )
query = parse_qs(parts.query)
values = {
    "PGHOST": query.get("host", [parts.hostname or ""])[0],
    "PGPORT": str(parts.port or query.get("port", [""])[0]),
    "PGUSER": unquote(parts.username or ""),
    "PGPASSWORD": unquote(parts.password or ""),
    "PGDATABASE": unquote(parts.path.lstrip("/")),
}
if not values["PGDATABASE"]:
    sys.exit("CALLCENTRE_DATABASE_URL names no database (…/callcentre at its end)")
for name, value in values.items():
    if value:
        print(f"export {name}={shlex.quote(value)}")
