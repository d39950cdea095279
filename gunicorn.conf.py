"""gunicorn settings read by `make run` and the systemd unit (`gunicorn -c gunicorn.conf.py 'app:create_app()'`).

Each worker runs the scheduler (models/scheduler.py) in a thread beside its requests; the lease in the
database lets exactly one of them, over all workers and servers, do the work. gunicorn restarts a worker
that dies, so the scheduler needs no supervisor of its own; SITEPASS_SCHEDULER_ENABLED=false turns it off.
"""
import gc
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# Sync workers: on a 2-core machine they measured faster than threaded ones.
workers = int(os.environ.get("WORKERS", "3"))
accesslog = "-"


def post_worker_init(worker):
    from models.scheduler import Scheduler

    app = worker.wsgi
    # The app's start-up objects (modules, routes, templates, the catalog) live as long as the worker:
    # frozen, the collector stops walking them at each full collection during requests (issue 15:
    # 5-15 % of a User list's CPU; tests/measure_list.py does the same).
    gc.collect()
    gc.freeze()
    if app.config.get("SCHEDULER_ENABLED", True):
        worker.sitepass_scheduler = Scheduler(app).start()


def worker_exit(server, worker):
    from models.api import flush_request_counts

    scheduler = getattr(worker, "sitepass_scheduler", None)
    if scheduler is not None:
        scheduler.stop(timeout=10)
    # The API's rate-limit counts are written in batches: a stopping worker writes what it still holds.
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "app_context"):
        with app.app_context():
            flush_request_counts()
