#!/usr/bin/env bash
# The last part of `make run` (after venv, services and migrate): demo data, the
# admin login, then web + 2 gateway workers + the SMSC simulator under honcho.
# Expects the venv on PATH and SYRENA_* from var/services.env (the Makefile does both).
set -euo pipefail
cd "$(dirname "$0")/.."

export PYTHONUNBUFFERED=1
# Readable log lines, not JSON, for a person at a terminal (SYRENA_LOGGING__FORMAT=json make run keeps JSON);
# their levels coloured when this terminal shows colour (honcho hands its processes a pipe, so they are told).
export SYRENA_LOGGING__FORMAT="${SYRENA_LOGGING__FORMAT:-text}"
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  export FORCE_COLOR=1
fi

# One `make run` per checkout at a time; a crashed one (kill -9, a closed terminal) may have left the web
# server, workers or simulator running on their ports: `reap` refuses in the first case and stops those in
# the second (only this checkout's processes, by the pids noted in var/run/make-run.json), and drops the
# per-process metrics files. No lock file is kept that a crash could leave stale.
python scripts/services.py reap
export PROMETHEUS_MULTIPROC_DIR="$PWD/var/prometheus"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

# The key that signs session cookies: generated once into var/secret-key (mode 600) and kept, so sessions
# survive a restart. The app refuses any key published with the source, and reads this file when
# SYRENA_APP__SECRET_KEY is not set (in development only: production must set it).
keyfile=var/secret-key
if [ ! -s "$keyfile" ]; then
  (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(48), end="")' > "$keyfile")
fi
chmod 600 "$keyfile"

# Exit status 3: it refused to add the demo history beside real campaigns (it said why); the rest still runs.
rc=0
flask demo load || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
  exit "$rc"
fi

# The admin login: the password is generated once and kept in var/admin-password,
# so every `make run` shows the same, working login.
email=$(python -c 'from syrena_core.config import get_settings; print(get_settings().app.admin_email)')
pwfile=var/admin-password
if [ ! -s "$pwfile" ]; then
  (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(15), end="")' > "$pwfile")
fi
chmod 600 "$pwfile"
if out=$(flask users create "$email" --role admin < "$pwfile" 2>&1); then
  echo "$out"
elif grep -qi 'exist' <<<"$out"; then
  # Already there (an earlier run). Say so if the stored password is not its password,
  # e.g. after `make clean` removed var/ but the database was kept.
  rc=0
  python - "$email" "$pwfile" <<'EOF' 2>/dev/null || rc=$?
import sys
from syrena_core import accounts
from syrena_core.config import get_settings
from syrena_core.db import session_scope
email, password = sys.argv[1], open(sys.argv[2]).read()
with session_scope(get_settings().database.url) as session:
    sys.exit(0 if accounts.authenticate(session, email, password) else 3)
EOF
  if [ "$rc" -eq 3 ]; then
    echo "WARNING: the user $email exists, but its password is not the one in $pwfile" >&2
    echo "         (e.g. var/ was removed and the database kept). Create another admin with" >&2
    echo "         'flask users create EMAIL --role admin', or drop the database." >&2
  fi
else
  echo "$out" >&2
  echo "make run: could not create the admin user $email" >&2
  exit 1
fi

# The simulator's control port as the Procfile starts it, and the number residents text (the MO's "to").
control_port=$(sed -n 's/.*--control-port \([0-9]*\).*/\1/p' Procfile)
short_number=$(python -c 'from syrena_core.config import get_settings; print(get_settings().smsc.source_addr)')
banner() {
  cat <<EOT

  ┌──────────────────────────────────────────────────────────────────────
  │ Syrena:          http://127.0.0.1:5000
  │ admin login:     $email
  │ password:        $(cat "$pwfile")      (kept in $pwfile)
  │ last month:      a demo history (alerts, receipts, costs): dashboard, Finance → last month
  │
  │ Try it as a resident:
  │   sign up:       http://127.0.0.1:5000/subscribe/
  │   alerts page:   http://127.0.0.1:5000/alerts
  │   send an SMS:   the simulator's POST /mo, as below (the reply: GET /messages)
  │ API docs:        http://127.0.0.1:5000/api/docs   (a token: flask users token $email)
  │ SMSC simulator:  SMPP 127.0.0.1:2775, control http://127.0.0.1:$control_port
  │ Ctrl-C stops the web server, the 2 workers and the simulator.
  └──────────────────────────────────────────────────────────────────────
  A resident's SMS to $short_number (copy and paste):

    curl -X POST http://127.0.0.1:$control_port/mo -H 'Content-Type: application/json' \\
      -d '{"from": "+48600100200", "to": "$short_number", "text": "ZAPISZ Głogowska 10"}'
    curl http://127.0.0.1:$control_port/messages

EOT
}
# The banner, once, when everything is up (/readyz: the web app answers, workers run, an SMSC bind is up), or
# after a minute whatever: printed before the processes' start-up lines, they scrolled it away (it used to be
# printed twice for that, the second time after a guessed 6 s).
(python - <<'EOF' || true; banner) &
import time
import urllib.request

deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen("http://127.0.0.1:5000/readyz", timeout=2)
        time.sleep(1)  # the other workers' start-up lines
        break
    except OSError:  # not answering yet, or 503 not ready (urllib's HTTPError is an OSError)
        time.sleep(0.5)
EOF
# honcho replaces this shell (same pid); what it starts is noted for `reap`.
python scripts/services.py record-run $$ --expect 4 &
exec honcho start -f Procfile -c worker=2
