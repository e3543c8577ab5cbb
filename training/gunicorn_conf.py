"""Gunicorn settings for production: ``gunicorn -c python:training.gunicorn_conf …``.

Access and error logs go to standard output and error, with manage and feed tokens, search
terms and email addresses masked (``training.logs.GunicornLogger``).
"""

logger_class = "training.logs.GunicornLogger"
accesslog = "-"
errorlog = "-"
