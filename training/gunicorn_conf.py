"""Gunicorn settings for production: ``gunicorn -c python:training.gunicorn_conf …``.

Access and error logs go to standard output and error, with manage and feed tokens, search
terms and email addresses masked (``training.logs.GunicornLogger``).
"""

logger_class = "training.logs.GunicornLogger"
accesslog = "-"
errorlog = "-"

# A sync worker busy with one response longer than this is killed. No response builds a large
# file (the worker makes large uploads' PARS-ready files), but sending one to a slow client (a
# findings CSV of about 33 MB for the largest upload) can outlast gunicorn's default 30 s.
timeout = 120
