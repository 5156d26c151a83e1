"""gunicorn settings for `make run` and deployments (docs/deploy.md).

HOST (127.0.0.1 unless set: a laptop does not serve its network by accident) and PORT choose the
address; JIFEN_WORKERS and JIFEN_THREADS the size. The worker is gthread with a bound on client
silence and Chinese error pages (app/serving.py).
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("JIFEN_WORKERS", "2"))
threads = int(os.environ.get("JIFEN_THREADS", "8"))
worker_class = "app.serving.BoundedThreadWorker"
logger_class = "app.serving.AccessLogger"  # no certificate codes in the access log
timeout = 60  # a worker whose main loop stops answering is restarted
keepalive = 5
# The result page carries the checker's answers in its query string (app/public/answers.py):
# access log lines have the path only (%(U)s), never the query.
accesslog = os.environ.get("JIFEN_ACCESS_LOG", "-") or None  # JIFEN_ACCESS_LOG= turns it off
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
