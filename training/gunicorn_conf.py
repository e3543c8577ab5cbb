"""Gunicorn settings for production: ``gunicorn -c python:training.gunicorn_conf …``.

Access and error logs go to standard output and error, with manage and feed tokens, search
terms and email addresses masked (``training.logs.GunicornLogger``).
"""

logger_class = "training.logs.GunicornLogger"
accesslog = "-"
errorlog = "-"

# A sync worker busy with one response longer than this is killed. The longest response is a
# PARS-ready workbook of the largest upload (20 MB, about 200,000 rows), built in the request
# at about 4,000 rows a second: 50 s on an idle core, more on a busy host. Gunicorn's default
# (30 s) cut such downloads off; 120 s leaves them twice that.
timeout = 120
