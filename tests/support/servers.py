"""Throwaway PostgreSQL and Redis servers on loopback for the test suite.

Why this exists: the suite must exercise the real database and cache, and CI runs on a
fresh Debian 12 machine (as root, no stdin, nothing installed by hand). These helpers
find the server binaries, install the Debian packages when they are missing (root
only), start a private server on a free 127.0.0.1 port in a temporary directory, and
always tear it down again -- on normal exit, on exceptions, through ``atexit`` when a
test session crashes without unwinding its context managers, and through a small
watchdog process when the session is killed outright (SIGKILL, CI timeout).

Usage::

    with postgres_server() as pg, redis_server() as redis:
        engine = create_engine(pg.url)  # postgresql+psycopg://postgres@127.0.0.1:P/qbank_test
        client = Redis.from_url(redis.url)  # redis://127.0.0.1:P/0
        pg.stop()  # simulate an outage ...
        pg.start()  # ... and bring it back on the same port and data

The module deliberately has no pytest dependency so it can be used from fixtures,
benchmarks and ad-hoc scripts alike.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import psycopg

from tests.support.live import free_port, terminate

__all__ = ["PgServer", "RedisServer", "postgres_server", "redis_server"]

T = TypeVar("T")

#: Several pytest processes may need to install a package at once; apt/dpkg cannot run
#: concurrently, so installs are serialised through this lock file.
APT_LOCK_PATH = Path("/tmp/qbank-apt.lock")
#: Debian's hook that tells maintainer scripts whether they may start services.
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")

PG_MIN_MAJOR = 15
PG_DB_NAME = "qbank_test"
PG_SUPERUSER = "postgres"
PG_OS_USER = "postgres"
PG_START_TIMEOUT = 60  # seconds pg_ctl waits for the server to accept connections
REDIS_START_TIMEOUT = 20.0  # seconds to wait for +PONG
APT_TIMEOUT = 900  # seconds per apt-get invocation (network can be slow on a fresh machine)
START_ATTEMPTS = 3  # a picked free port can be taken before the server binds it
LOG_TAIL_CHARS = 4000

_PORT_TAKEN = re.compile(
    r"address already in use|could not bind|could not create any tcp/ip sockets"
    r"|could not create server tcp listening socket",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- helpers


def _is_root() -> bool:
    return os.geteuid() == 0


def _tail(path: Path, limit: int = LOG_TAIL_CHARS) -> str:
    """Return the end of a log file, so failures show the server's own explanation."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"<log {path} unreadable: {exc}>"
    text = data[-limit:].decode("utf-8", "replace")
    return text if text.strip() else f"<log {path} is empty>"


def _clean_env() -> dict[str, str]:
    """Environment for server processes without the caller's libpq/PG* settings.

    A developer's PGDATA, PGPORT or PGHOST must not redirect initdb/pg_ctl to their own
    cluster, and a stray LC_ALL naming an uninstalled locale must not make initdb fail.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env.pop("LANG", None)
    env.pop("LANGUAGE", None)
    return env


def _run(
    cmd: list[str], *, timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command with no stdin and a hard timeout, capturing its output.

    stdin is /dev/null because CI has none and an interactive prompt must never hang
    the suite; the timeout keeps every wait bounded.
    """
    try:
        return subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            cwd=cwd,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.output or ""
        if isinstance(out, bytes):
            out = out.decode("utf-8", "replace")
        raise RuntimeError(
            f"command timed out after {timeout}s: {shlex.join(cmd)}\n{out[-LOG_TAIL_CHARS:]}"
        ) from exc


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path`, so concurrent test processes take turns."""
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _apt_lock() -> contextlib.AbstractContextManager[None]:
    """Concurrent test processes install one at a time."""
    return file_lock(APT_LOCK_PATH)


@contextlib.contextmanager
def _no_service_autostart() -> Iterator[None]:
    """Stop Debian maintainer scripts from launching the system postgres/redis daemons.

    Installing ``postgresql`` or ``redis-server`` would otherwise start a system-wide
    server on 5432/6379 that nobody stops. Docker images already ship a policy-rc.d
    that denies starts; only when it is absent is a temporary one put in place.
    """
    if POLICY_RC_D.exists():
        yield
        return
    POLICY_RC_D.write_text(
        "#!/bin/sh\n# temporary, written by qbank tests/support/servers.py\nexit 101\n"
    )
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            POLICY_RC_D.unlink()


def _ensure_installed(package: str, probe: Callable[[], T | None], what: str) -> T:
    """Return ``probe()``; if it finds nothing, apt-get install ``package`` (root only).

    The probe is repeated after taking the lock because another process may have
    finished the same install while this one waited.
    """
    found = probe()
    if found is not None:
        return found
    if not _is_root():
        raise RuntimeError(
            f"{what} not found and not running as root, so it cannot be installed "
            f"automatically; install it with: sudo apt-get install -y {package}"
        )
    with _apt_lock():
        found = probe()
        if found is not None:
            return found
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        apt_opts = ["-o", "DPkg::Lock::Timeout=300"]
        update = _run(["apt-get", *apt_opts, "update"], timeout=APT_TIMEOUT, env=env)
        with _no_service_autostart():
            install = _run(
                ["apt-get", *apt_opts, "install", "-y", "--no-install-recommends", package],
                timeout=APT_TIMEOUT,
                env=env,
            )
        found = probe()
        if found is None:
            raise RuntimeError(
                f"{what} still missing after installing {package!r} "
                f"(apt-get install exit {install.returncode})\n"
                f"--- apt-get update (exit {update.returncode}) ---\n"
                f"{update.stdout[-LOG_TAIL_CHARS:]}\n"
                f"--- apt-get install ---\n{install.stdout[-LOG_TAIL_CHARS:]}"
            )
        return found


def _private_tempdir(prefix: str) -> Path:
    """Create a short temporary directory path.

    Short because PostgreSQL puts its Unix socket in it and socket paths are limited to
    ~107 bytes; under /tmp when root so the unprivileged postgres user can traverse the
    parents (a TMPDIR under /root could not be entered).
    """
    base: str | None = None
    if _is_root() or len(tempfile.gettempdir()) > 60:
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def _spawn_watchdog(cleanup: str) -> subprocess.Popen[bytes]:
    """Start a shell that runs ``cleanup`` once the test process is gone.

    atexit does not run when the test session is SIGKILLed (a CI timeout, the OOM
    killer). The watchdog blocks reading a pipe whose only write end lives in this
    process (subprocess pipes are close-on-exec, so no server inherits it); when this
    process dies the read hits EOF and the cleanup runs. It has its own session so a
    signal sent to the test's process group does not take it down too. A normal
    ``close()`` kills the watchdog first, so the cleanup then never runs twice.
    """
    return subprocess.Popen(
        ["sh", "-c", f"read -r _ignored; {cleanup}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
        env=_clean_env(),
        start_new_session=True,
    )


def _stop_watchdog(proc: subprocess.Popen[bytes] | None) -> None:
    """Kill the watchdog before it sees EOF, reap it, and close the pipe."""
    if proc is None:
        return
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()


# --------------------------------------------------------------------------- PostgreSQL


def _find_pg_bindir() -> Path | None:
    """Highest-versioned /usr/lib/postgresql/N/bin (N >= 15) with initdb and pg_ctl."""
    candidates: list[tuple[int, Path]] = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        try:
            major = int(bindir.parent.name)
        except ValueError:
            continue
        if major < PG_MIN_MAJOR:
            continue
        if all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            candidates.append((major, bindir))
    return max(candidates)[1] if candidates else None


def _ensure_pg_os_user() -> pwd.struct_passwd:
    """The OS account that owns the cluster: initdb and postgres refuse to run as root."""
    try:
        return pwd.getpwnam(PG_OS_USER)
    except KeyError:
        pass
    res = _run(["useradd", "--system", PG_OS_USER], timeout=60)
    if res.returncode == 9:  # a group of that name exists already: join it
        res = _run(["useradd", "--system", "-g", PG_OS_USER, PG_OS_USER], timeout=60)
    try:
        return pwd.getpwnam(PG_OS_USER)
    except KeyError:
        raise RuntimeError(
            f"could not create OS user {PG_OS_USER!r}: exit {res.returncode}\n{res.stdout}"
        ) from None


class PgServer:
    """A private PostgreSQL cluster in a temporary directory, listening on 127.0.0.1.

    ``stop()``/``start()`` exist for fault-injection tests: the server can be taken down
    (immediately, like a crash) and brought back on the same port with the same data.

    By default the cluster trades durability for speed, as a test suite may: ``fsync``,
    ``synchronous_commit`` and ``full_page_writes`` off. ``durable=True`` (`make bench`)
    leaves all three at PostgreSQL's defaults (on): a commit waits for its WAL flush.
    """

    def __init__(self, bindir: Path, *, durable: bool = False) -> None:
        self.bindir = bindir
        self.durable = durable
        self.port = 0
        self.tempdir = _private_tempdir("qbank-pg-")
        self.datadir = self.tempdir / "data"
        self.logfile = self.tempdir / "postgres.log"
        self._as_user: list[str] = []
        self._running = False
        self._closed = False
        self._watchdog: subprocess.Popen[bytes] | None = None
        atexit.register(self.close)
        if _is_root():
            user = _ensure_pg_os_user()
            os.chown(self.tempdir, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", PG_OS_USER, "--"]
        stop_cmd = [
            *self._as_user,
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-m",
            "immediate",
            "-w",
            "-t",
            "30",
            "stop",
        ]
        self._watchdog = _spawn_watchdog(
            f"{shlex.join(stop_cmd)}; rm -rf {shlex.quote(str(self.tempdir))}"
        )

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the test database (trust auth, so no password)."""
        return f"postgresql+psycopg://{PG_SUPERUSER}@127.0.0.1:{self.port}/{PG_DB_NAME}"

    @property
    def running(self) -> bool:
        return self._running

    def _pg(self, tool: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        cmd = [*self._as_user, str(self.bindir / tool), *args]
        # cwd inside the tempdir: the postgres user may not be allowed into the caller's cwd.
        return _run(cmd, timeout=timeout, cwd=self.tempdir, env=_clean_env())

    def initdb(self) -> None:
        res = self._pg(
            "initdb",
            "-D",
            str(self.datadir),
            "-A",
            "trust",
            "-U",
            PG_SUPERUSER,
            "--encoding=UTF8",
            "--locale=C",
            # A durable cluster's files start on disk too; a test cluster need not wait.
            *(() if self.durable else ("--no-sync",)),
            timeout=180,
        )
        if res.returncode != 0:
            raise RuntimeError(f"initdb failed (exit {res.returncode}):\n{res.stdout}")

    def _pg_ctl_start(self, port: int) -> subprocess.CompletedProcess[str]:
        opts = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {port}",
                f"-k {shlex.quote(str(self.tempdir))}",
                *(
                    ("-c fsync=on", "-c synchronous_commit=on", "-c full_page_writes=on")
                    if self.durable
                    else ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
                ),
                "-c max_connections=200",
            ]
        )
        return self._pg(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-w",
            "-t",
            str(PG_START_TIMEOUT),
            "-o",
            opts,
            "-l",
            str(self.logfile),
            "start",
            timeout=PG_START_TIMEOUT + 30,
        )

    def start(self) -> None:
        """Start the server; on first start pick a free port, later reuse the same one.

        On first start a port taken between picking and binding is retried on a new port
        (up to ``START_ATTEMPTS`` times); on restart the port is fixed because clients
        already hold the URL.
        """
        if self._closed:
            raise RuntimeError("PgServer is closed")
        if self._running:
            return
        first = self.port == 0
        attempts = START_ATTEMPTS if first else 1
        last = ""
        for _ in range(attempts):
            port = free_port() if first else self.port
            log_offset = self.logfile.stat().st_size if self.logfile.exists() else 0
            res = self._pg_ctl_start(port)
            if res.returncode == 0:
                self.port = port
                self._running = True
                return
            new_log = ""
            with contextlib.suppress(OSError):
                new_log = self.logfile.read_bytes()[log_offset:].decode("utf-8", "replace")
            last = (
                f"pg_ctl start on port {port} failed (exit {res.returncode}):\n{res.stdout}\n"
                f"--- server log tail ---\n{_tail(self.logfile)}"
            )
            self._kill_leftover()
            if not _PORT_TAKEN.search(new_log + res.stdout):
                break
        raise RuntimeError(last)

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (default: immediate, i.e. like a crash; data dir is kept)."""
        if not self._running:
            return
        res = self._pg(
            "pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "30", "stop", timeout=60
        )
        self._running = False
        if res.returncode != 0:
            # Never leave a server behind: fall back to killing the postmaster.
            self._kill_leftover()
            if self._postmaster_pid() is not None:
                raise RuntimeError(
                    f"pg_ctl stop failed (exit {res.returncode}):\n{res.stdout}\n"
                    f"--- server log tail ---\n{_tail(self.logfile)}"
                )

    def _postmaster_pid(self) -> int | None:
        """PID from postmaster.pid if that process is still alive."""
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def _kill_leftover(self) -> None:
        """SIGKILL a postmaster that pg_ctl failed to start or stop; bounded wait."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._postmaster_pid() is not None:
            time.sleep(0.05)

    def create_database(self) -> None:
        dsn = f"host=127.0.0.1 port={self.port} user={PG_SUPERUSER} dbname=postgres"
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'CREATE DATABASE "{PG_DB_NAME}"')
        except psycopg.Error as exc:
            raise RuntimeError(
                f"could not create database {PG_DB_NAME}: {exc}\n"
                f"--- server log tail ---\n{_tail(self.logfile)}"
            ) from exc

    def close(self) -> None:
        """Stop the server and delete its directory; safe to call twice (atexit too)."""
        if self._closed:
            return
        self._closed = True
        _stop_watchdog(self._watchdog)
        try:
            try:
                self.stop()
            except RuntimeError:
                self._kill_leftover()
        finally:
            shutil.rmtree(self.tempdir, ignore_errors=True)
            atexit.unregister(self.close)


@contextlib.contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[PgServer]:
    """Start a throwaway PostgreSQL >= 15 with an empty ``qbank_test`` database.

    Installs the Debian ``postgresql`` package first when no server binaries exist and
    the process is root. The server is stopped and its directory removed on exit.
    ``durable`` turns fsync, synchronous_commit and full_page_writes on (`make bench`);
    the test suite keeps them off (see ``PgServer``).
    """
    bindir = _ensure_installed("postgresql", _find_pg_bindir, f"PostgreSQL >= {PG_MIN_MAJOR}")
    server = PgServer(bindir, durable=durable)
    try:
        server.initdb()
        server.start()
        server.create_database()
        yield server
    finally:
        server.close()


# --------------------------------------------------------------------------- Redis


def _find_redis_server() -> Path | None:
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    for cand in (Path("/usr/bin/redis-server"), Path("/usr/sbin/redis-server")):
        if os.access(cand, os.X_OK):
            return cand
    return None


def _die_with_parent_prefix() -> list[str]:
    """Command prefix that makes the kernel SIGTERM the server when the test process dies.

    Covers what atexit cannot: the test session being SIGKILLed (e.g. by a CI timeout).
    util-linux's setpriv (essential on Debian) sets PR_SET_PDEATHSIG and then execs the
    server, so the server stays a direct child of Python; this avoids ``preexec_fn``,
    which is unsafe with threads. The signal fires when the *thread* that started the
    server ends, so start servers from the main thread (as pytest fixtures do). Where
    setpriv is missing, atexit is the only fallback.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


def _redis_ping(port: int) -> bool:
    """True if a raw RESP PING on the port is answered with +PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n") and len(reply) < 1024:
                chunk = sock.recv(1024)
                if not chunk:
                    break
                reply += chunk
            return reply.startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A private, non-persistent redis-server on 127.0.0.1 in a temporary directory.

    ``stop()``/``start()`` exist for fault-injection tests (restart on the same port).
    """

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.port = 0
        self.tempdir = _private_tempdir("qbank-redis-")
        self.logfile = self.tempdir / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False
        atexit.register(self.close)
        # The server itself dies with us via --pdeathsig; this only removes its directory.
        self._watchdog = _spawn_watchdog(f"rm -rf {shlex.quote(str(self.tempdir))}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        cmd = [
            *_die_with_parent_prefix(),
            str(self.binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.tempdir),
        ]
        with open(self.logfile, "ab") as log:
            return subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.tempdir,
            )

    def _wait_ready(self, proc: subprocess.Popen[bytes], port: int) -> bool:
        """Poll PING until +PONG (True) or the process exits/time runs out (False)."""
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if _redis_ping(port):
                return True
            time.sleep(0.05)
        return False

    def start(self) -> None:
        """Start redis; retry on a new port if the first picked one was taken."""
        if self._closed:
            raise RuntimeError("RedisServer is closed")
        if self.running:
            return
        first = self.port == 0
        attempts = START_ATTEMPTS if first else 1
        last = ""
        for _ in range(attempts):
            port = free_port() if first else self.port
            log_offset = self.logfile.stat().st_size if self.logfile.exists() else 0
            proc = self._spawn(port)
            if self._wait_ready(proc, port):
                self._proc = proc
                self.port = port
                return
            exited = proc.poll()
            self._terminate(proc)
            new_log = ""
            with contextlib.suppress(OSError):
                new_log = self.logfile.read_bytes()[log_offset:].decode("utf-8", "replace")
            reason = (
                f"exited with {exited}"
                if exited is not None
                else f"no +PONG within {REDIS_START_TIMEOUT}s"
            )
            last = (
                f"redis-server on port {port} {reason}\n"
                f"--- server log tail ---\n{_tail(self.logfile)}"
            )
            if not _PORT_TAKEN.search(new_log):
                break
        raise RuntimeError(last)

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes]) -> None:
        terminate(proc)

    def stop(self) -> None:
        """Stop the server (data is not persisted: --save "" and no AOF)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._terminate(proc)

    def close(self) -> None:
        """Stop the server and delete its directory; safe to call twice (atexit too)."""
        if self._closed:
            return
        self._closed = True
        _stop_watchdog(self._watchdog)
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tempdir, ignore_errors=True)
            atexit.unregister(self.close)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Start a throwaway redis-server; install Debian ``redis-server`` if missing (root)."""
    binary = _ensure_installed("redis-server", _find_redis_server, "redis-server")
    server = RedisServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.close()


# --------------------------------------------------------------------------- nginx

NGINX_TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "api.conf.template"
NGINX_START_TIMEOUT = 30


def _find_nginx() -> Path | None:
    found = shutil.which("nginx")
    if found:
        return Path(found)
    cand = Path("/usr/sbin/nginx")
    return cand if os.access(cand, os.X_OK) else None


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def nginx_in_front(upstream: str | Sequence[str]) -> Iterator[str]:
    """Debian's nginx on a free loopback port with the project's deploy template, proxying
    to `upstream` (host:port, or several: nginx balances them round robin, as compose's
    `api` service scaled out); yields its base URL. Installed with apt-get when missing
    (root); its files live in a temporary directory, removed after."""
    servers = [upstream] if isinstance(upstream, str) else list(upstream)
    binary = _ensure_installed("nginx", _find_nginx, "nginx")
    prefix = _private_tempdir("qbank-nginx-")
    prefix.chmod(0o755)  # the workers (nobody, when started as root) create temp files here
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = (
        NGINX_TEMPLATE.read_text()
        .replace("${NGINX_LISTEN}", f"127.0.0.1:{port}")
        .replace("server ${API_UPSTREAM};", "\n    ".join(f"server {u};" for u in servers))
    )
    (prefix / "api.conf").write_text(site)
    (prefix / "nginx.conf").write_text(
        f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/api.conf;
}}
"""
    )
    cmd = [
        *_die_with_parent_prefix(),
        str(binary),
        "-p",
        str(prefix),
        "-c",
        str(prefix / "nginx.conf"),
        "-g",
        "daemon off;",
    ]
    log = prefix / "stderr.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + NGINX_START_TIMEOUT
        while not _port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"nginx did not start:\n{_tail(log)}\n{_tail(prefix / 'error.log')}"
                )
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        terminate(proc, grace=20)
        shutil.rmtree(prefix, ignore_errors=True)
