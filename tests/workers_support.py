"""Real parts for the background-work tests: an SMTP server (aiosmtpd) and Celery worker processes.

Time in these tests is waited for by polling what the user would see (a message arriving, a row
marked sent), with a bound, never by sleeping a fixed time and hoping.
"""

from __future__ import annotations

import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
# two checkouts may run their tests at once: each gives its own KXFLOW_TEST_REDIS_DB (and KXFLOW_TEST_PG_DB)
REDIS_TEST_DB = int(os.environ.get("KXFLOW_TEST_REDIS_DB", "14"))
REDIS_TEST_URL = f"redis://127.0.0.1:6379/{REDIS_TEST_DB}"
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]  # the same command tests/services.sh uses


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # aiosmtpd's port=0 does not pick a free port: bind one ourselves
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class SmtpSink:
    """An SMTP server that keeps what it accepted; it can stall one message, or be stopped."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[email.message.Message] = []
        self.received: list[tuple[str, bytes]] = []  # each accepted message's MAIL FROM and its bytes as sent
        self.peers: list[tuple[str, int]] = []  # the client address of each accepted message: one per connection
        self.stall_on: int | None = None  # the n-th message (1-based) is held until released
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.controller: Controller | None = None
        self._seen = 0

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler
        self._seen += 1
        if self.stall_on is not None and self._seen == self.stall_on:
            self.stalled.set()
            while not self.release.is_set():  # the sender is killed meanwhile
                await __import__("asyncio").sleep(0.05)
            return "451 aborted: the sender went away"  # not accepted, not kept
        content = envelope.original_content or envelope.content
        self.messages.append(email.message_from_bytes(content))
        self.received.append((envelope.mail_from, content))
        self.peers.append(session.peer)
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def ids(self) -> Counter:
        return Counter(m["Message-ID"] for m in self.messages)


class Worker:
    """``celery -A workers.celery_app worker -B`` as a separate process group."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log = env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        schedule = Path(self.env["KXFLOW_INSTANCE"]) / f"beat-{time.monotonic_ns()}"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "worker",
                "-B",
                "--concurrency",
                "1",
                "--loglevel",
                "info",
                "-s",
                str(schedule),
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: b"ready." in self.log.read_bytes(), 60, "the Celery worker to be ready")
        wait_for(lambda: b"beat: Starting..." in self.log.read_bytes() or self.proc.poll() is not None, 30, "beat")
        assert b"Process Beat" not in self.log.read_bytes(), "beat failed to start"

    def kill(self) -> None:
        """SIGKILL to the whole group (worker, pool child, beat): nothing gets to clean up."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.release.set()
    sink.stop()


@pytest.fixture
def worker_env(database, tmp_path, smtp_sink):
    """The environment of a worker process sharing this test's database and SMTP server."""
    env = {
        **os.environ,
        "KXFLOW_ENV": "testing",
        "DATABASE_URL": database["url"],
        "KXFLOW_INSTANCE": str(tmp_path / "instance"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_sink.port),
        "MAIL_SENDER": "kxflow@kxflow.test",
        "EMAIL_DISPATCH_SECONDS": "0.5",
        "EMAIL_RETRY_BASE_SECONDS": "0.5",
        "REMINDER_SCAN_SECONDS": "1",
        "SCHEDULER_LOCK_SECONDS": "4",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    }
    env.pop("REDIS_URL", None)
    return env


@pytest.fixture
def start_worker(worker_env, tmp_path):
    workers: list[Worker] = []

    def start(**overrides: str) -> Worker:
        worker = Worker({**worker_env, **overrides}, tmp_path / f"worker-{len(workers)}.log")
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def redis_up() -> bool:
    return subprocess.run(["redis-cli", "-p", "6379", "ping"], capture_output=True).returncode == 0


def stop_redis() -> None:
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    wait_for(lambda: not redis_up(), 10, "Redis to stop")


def start_redis() -> None:
    if not redis_up():
        subprocess.run(REDIS_START, check=True, capture_output=True)
    wait_for(redis_up, 10, "Redis to start")
