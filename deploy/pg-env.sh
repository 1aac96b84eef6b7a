# Sourced by backup.sh and restore.sh: libpq's connection variables (PGHOST, PGPORT, PGUSER,
# PGPASSWORD, PGDATABASE) from the server's CALLCENTRE_DATABASE_URL
# (postgresql+asyncpg://user:password@host:port/db, or ?host=/run/postgresql for a socket),
# so the password reaches psql, pg_dump and pg_restore through their environment, never
# their command line (which any user of the machine can read).
: "${CALLCENTRE_DATABASE_URL:?is not set (the database the server uses)}"
pg_exports="$(python3 "$(dirname "${BASH_SOURCE[0]}")/pg_url.py")"
eval "$pg_exports"
unset pg_exports
