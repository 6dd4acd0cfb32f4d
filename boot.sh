#!/bin/sh
# Container entrypoint: apply migrations, then hand the process over to gunicorn.
set -e
flask --app api db upgrade
if [ "${SEED_ON_START:-1}" = "1" ]; then
    flask --app api seed
fi
exec gunicorn --config gunicorn.conf.py 'api:create_app()'
