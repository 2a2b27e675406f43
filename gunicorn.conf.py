"""gunicorn's settings for `make run` (Procfile: `gunicorn -c gunicorn.conf.py wsgi:app`) and the starting point
of a production /etc/syrena/gunicorn.conf.py (docs/deployment.md).

Threads, not processes per core: a request mostly waits for Redis or PostgreSQL, and the public alert pages are
served from a cached copy (app/public_cache.py), so 2 processes x 8 threads keep 2 cores busy. Override any of
these for one run with GUNICORN_CMD_ARGS, e.g. GUNICORN_CMD_ARGS="--bind 0.0.0.0:8000 --workers 4".
"""

from prometheus_client import multiprocess

bind = "127.0.0.1:5000"
workers = 2
worker_class = "gthread"
threads = 8
worker_connections = 1000  # idle keep-alive connections a process holds besides the busy threads
keepalive = 5
timeout = 60
# Ctrl-C in `make run` (honcho sends SIGTERM): requests in flight finish, then it stops — never 30 s of waiting.
graceful_timeout = 5
# gunicorn >= 24 opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl): a second server
# (another checkout, a benchmark) would take it over. Nothing here uses it.
control_socket_disable = True


def child_exit(server, worker):
    # The live gauges of a process that exited must not linger in /metrics (PROMETHEUS_MULTIPROC_DIR).
    multiprocess.mark_process_dead(worker.pid)
