#!/usr/bin/env bash
# Restore a backup made by deploy/backup.sh into a fresh database, and its recordings, then
# check both against what the backup counted.
#
#   restore.sh BACKUP_DIR
#
# The database is CALLCENTRE_DATABASE_URL's and must be empty (no table): create it first,
# owned by the server's user, e.g. `sudo -u postgres createdb -O callcentre callcentre`. The
# recordings go to CALLCENTRE_RECORDINGS_DIR (files there already are kept). Stop the
# server's processes first; start them once it says "restored". If the backup's schema is
# older than the installed release, run `callcentre db upgrade` before starting them.
# Needs: psql, pg_restore (Debian postgresql-client), rsync, python3, sha256sum.
set -euo pipefail
umask 027

case "${1:-}" in
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
esac
[[ $# -eq 1 ]] || { echo "usage: restore.sh BACKUP_DIR" >&2; exit 2; }
backup="$(cd "$1" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/pg-env.sh
source "$here/pg-env.sh"
recordings="${CALLCENTRE_RECORDINGS_DIR:-./var/recordings}"

for file in database.dump row-counts.tsv schema-revision recordings.tsv SHA256SUMS; do
    [[ -f "$backup/$file" ]] || { echo "restore.sh: $backup has no $file: not a complete backup" >&2; exit 1; }
done
(cd "$backup" && sha256sum --quiet --check SHA256SUMS) \
    || { echo "restore.sh: $backup does not match its SHA256SUMS: damaged" >&2; exit 1; }

psql_value() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
count_rows() {  # every table of the restored database, as backup.sh counted them
    psql -X -q -A -t -v ON_ERROR_STOP=1 <<'SQL'
SELECT format('SELECT %L || E''\t'' || count(*) FROM %I.%I', c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' ORDER BY c.relname \gexec
SQL
}

existing="$(psql_value "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'")"
if [[ "$existing" != "0" ]]; then
    echo "restore.sh: database $PGDATABASE is not empty ($existing tables and sequences):" \
        "restore into a fresh one (createdb -O <the server's user> NAME) and point" \
        "CALLCENTRE_DATABASE_URL at it" >&2
    exit 1
fi

# One transaction: a restore that fails leaves the database as empty as it was.
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
    --dbname="$PGDATABASE" "$backup/database.dump"

if ! diff <(sort "$backup/row-counts.tsv") <(count_rows | sort) > /dev/null; then
    echo "restore.sh: the restored tables' rows differ from the backup's (table, rows):" >&2
    diff <(sort "$backup/row-counts.tsv") <(count_rows | sort) >&2 || true
    exit 1
fi

mkdir -p "$recordings"
rsync -a "$backup/recordings/" "$recordings/"
# Every recording of the backup is there, the same size (rsync would copy nothing more).
missing="$(rsync -a --dry-run --size-only --out-format='%n' "$backup/recordings/" "$recordings/" \
    | grep -v '/$' || true)"
if [[ -n "$missing" ]]; then
    echo "restore.sh: recordings not restored:" >&2
    echo "$missing" >&2
    exit 1
fi

tables="$(wc -l < "$backup/row-counts.tsv")"
rows="$(awk -F'\t' '{n += $2} END {print n + 0}' "$backup/row-counts.tsv")"
files="$(awk -F'\t' '$1 == "files" {print $2}' "$backup/recordings.tsv")"
echo "restored $backup into $PGDATABASE: $tables tables, $rows rows (as counted at the" \
    "backup), $files recordings into $recordings; schema $(cat "$backup/schema-revision")" \
    "(newer release installed: \`callcentre db upgrade\` before starting it)"
