#!/usr/bin/env bash
# Back up the call centre: the PostgreSQL database (pg_dump, custom format) and the
# recordings (rsync; files unchanged since the previous backup are hard links to it, so a
# daily backup costs only the day's new recordings).
#
#   backup.sh [--keep N] DEST
#
# Reads CALLCENTRE_DATABASE_URL and CALLCENTRE_RECORDINGS_DIR from the environment, as the
# server does (callcentre-backup.service loads /etc/callcentre/callcentre.env). By hand:
#   sudo -u callcentre bash -c 'set -a; . /etc/callcentre/callcentre.env; set +a;
#       /opt/callcentre/deploy/backup.sh /var/backups/callcentre'
# (the file is root's: run it as root with `set -a; . file` and `runuser -u callcentre`, or
# start the service: `systemctl start callcentre-backup`).
#
# Writes DEST/callcentre-<UTC time>/ with database.dump, row-counts.tsv (every table's rows,
# counted in the dump's own snapshot), schema-revision, recordings/, recordings.tsv and
# SHA256SUMS; it is named so only once complete (until then: .partial). --keep N removes
# all but the newest N complete backups. deploy/restore.sh restores one and checks it.
# Needs: psql, pg_dump (Debian postgresql-client, the server's major version or newer),
# rsync, python3.
set -euo pipefail
umask 077

keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --keep) keep="${2:?--keep needs a number}"; shift 2 ;;
        --keep=*) keep="${1#--keep=}"; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "backup.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[[ $# -eq 1 ]] || { echo "usage: backup.sh [--keep N] DEST" >&2; exit 2; }
[[ "$keep" =~ ^[0-9]+$ ]] || { echo "backup.sh: --keep takes a number, not '$keep'" >&2; exit 2; }
dest="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/pg-env.sh
source "$here/pg-env.sh"  # PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE from the URL
recordings="${CALLCENTRE_RECORDINGS_DIR:-./var/recordings}"

mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
name="callcentre-$(date -u +%Y%m%dT%H%M%SZ)"
work="$dest/$name.partial"
mkdir "$work"
trap 'rm -rf "$work"' EXIT

# One read-only snapshot for the dump and the row counts: a psql session holds it open
# (pg_export_snapshot) while pg_dump reads the same data.
coproc SNAPSHOT { psql -X -q -A -t -v ON_ERROR_STOP=1 2>&1; }
snapshot_session="$SNAPSHOT_PID"  # bash forgets it once the session ends
ask() {  # send SQL to the snapshot's session, read its answer up to the end mark
    printf '%s\nSELECT %s;\n' "$1" "'-- end --'" >&"${SNAPSHOT[1]}"
    local line
    while IFS= read -r line <&"${SNAPSHOT[0]}"; do
        [[ "$line" == "-- end --" ]] && return 0
        printf '%s\n' "$line"
    done
    echo "backup.sh: the database session ended" >&2
    return 1
}
snapshot="$(ask "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot();")"
[[ "$snapshot" =~ ^[0-9A-F-]+$ ]] || { echo "backup.sh: no snapshot: $snapshot" >&2; exit 1; }

pg_dump --format=custom --snapshot="$snapshot" --file="$work/database.dump"

ask "SELECT format('SELECT %L || E''\\t'' || count(*) FROM %I.%I', c.relname, n.nspname,
        c.relname)
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' ORDER BY c.relname \\gexec" \
    > "$work/row-counts.tsv"
ask "SELECT version_num FROM alembic_version;" > "$work/schema-revision"
ask "COMMIT;" > /dev/null
exec {SNAPSHOT[1]}>&-
wait "$snapshot_session" 2>/dev/null || true

# Recordings after the dump: every recording the dump names was written before it.
if [[ -d "$recordings" ]]; then
    previous="$(find "$dest" -maxdepth 1 -name 'callcentre-*Z' -type d | sort | tail -n 1)"
    link=()
    [[ -n "$previous" && -d "$previous/recordings" ]] && link=(--link-dest="$previous/recordings")
    rsync -a "${link[@]}" "$recordings/" "$work/recordings/"
else
    echo "backup.sh: no recordings directory $recordings (CALLCENTRE_RECORDINGS_DIR)" >&2
    mkdir "$work/recordings"
fi
find "$work/recordings" -type f -printf '%s\n' \
    | awk '{files += 1; bytes += $1} END {printf "files\t%d\nbytes\t%d\n", files, bytes}' \
    > "$work/recordings.tsv"

(cd "$work" && sha256sum database.dump row-counts.tsv schema-revision recordings.tsv > SHA256SUMS)
mv "$work" "$dest/$name"
trap - EXIT

if [[ "$keep" -gt 0 ]]; then
    find "$dest" -maxdepth 1 -name 'callcentre-*Z' -type d | sort | head -n "-$keep" \
        | while IFS= read -r old; do rm -rf "$old"; done
fi

tables="$(wc -l < "$dest/$name/row-counts.tsv")"
rows="$(awk -F'\t' '{n += $2} END {print n + 0}' "$dest/$name/row-counts.tsv")"
files="$(awk -F'\t' '$1 == "files" {print $2}' "$dest/$name/recordings.tsv")"
echo "backup $dest/$name: $tables tables, $rows rows, schema $(cat "$dest/$name/schema-revision"), $files recordings"
