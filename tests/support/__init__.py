"""What the tests share, defined once: apps and databases (`apps`), accounts (`accounts`),
a real gunicorn and HTTP to it (`live`), PostgreSQL and Redis (`servers`), Chromium
(`browser`) and Schemathesis runs (`contract`). Fixtures built on these are in conftest.py.
"""
