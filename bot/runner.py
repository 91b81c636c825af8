"""Starts the product's processes, with their logs in one folder, and stops them together.

Used by `make run` (python -m bot run) and by the end-to-end tests, so both start the
servers the same way. A plain subprocess supervisor: the Rasa servers are ordinary
processes with health endpoints, and Ctrl-C must stop all of them.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Dict, List, Optional, Sequence

from bot.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

BIN = Path(sys.executable).parent


def base_environment(settings: Settings) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(settings.rasa_environment())
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    # the project root on the path: Rasa imports bot.nlu.* components, the SDK imports actions
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    return env


class ManagedProcess:
    """One child process whose output goes to its log file (and, optionally, our stdout)."""

    def __init__(self, name: str, args: Sequence[str], env: Dict[str, str], log_dir: Path,
                 health_url: str, echo: bool = False) -> None:
        self.name = name
        self.args = list(args)
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.health_url = health_url
        self.echo = echo
        self.process: Optional[subprocess.Popen] = None
        self._pump: Optional[threading.Thread] = None

    def start(self) -> "ManagedProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.args, env=self.env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self._pump = threading.Thread(target=self._copy_output, daemon=True)
        self._pump.start()
        return self

    def _copy_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with open(self.log_path, "ab") as log:
            for line in iter(self.process.stdout.readline, b""):
                log.write(line)
                log.flush()
                if self.echo:
                    sys.stdout.write(f"{self.name:>7} | {line.decode(errors='replace')}")
                    sys.stdout.flush()

    def wait_healthy(self, timeout: float = 240) -> None:
        """Block until the health URL answers 200; raise with the log's tail if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}:\n"
                                   + self.tail())
            try:
                with urllib.request.urlopen(self.health_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{self.name} not healthy after {timeout:.0f}s; see {self.log_path}:\n" + self.tail())

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """kill -9 the process and its children, as a crash or the OOM killer would (the reliability battery's fault)."""
        if not self.running():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self._pump:
            self._pump.join(timeout=5)

    def stop(self, timeout: float = 15) -> None:
        if not self.running():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in %ss; killing it", self.name, timeout)
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self._pump:
            self._pump.join(timeout=5)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def action_server(settings: Settings, echo: bool = False, name: str = "actions") -> ManagedProcess:
    return ManagedProcess(
        name,
        # through bot.rasa_server like the Rasa server, for the masked logs
        [sys.executable, "-m", "bot.rasa_server", "run", "actions", "--actions", "actions", "--port", str(settings.action_port)],
        base_environment(settings), settings.log_dir,
        f"http://{settings.host}:{settings.action_port}/health", echo,
    )


def rasa_server(settings: Settings, model_dir: Path, echo: bool = False, name: str = "rasa") -> ManagedProcess:
    return ManagedProcess(
        name,
        # bot.rasa_server: Rasa's command line with a measured speed-up, the token passed in the environment
        [sys.executable, "-m", "bot.rasa_server", "run", "--enable-api",
         "--port", str(settings.rasa_port), "--interface", settings.host, "--cors", "*",
         "--model", str(model_dir), "--endpoints", str(PROJECT_ROOT / "endpoints.yml"),
         "--credentials", str(PROJECT_ROOT / "credentials.yml"),
         "--log-file", str(settings.log_dir / f"{name}-debug.log")],
        base_environment(settings), settings.log_dir,
        # /status needs the token and answers only once the model is loaded
        f"{settings.rasa_url}/status?token={settings.rasa_token}", echo,
    )


def web_app(settings: Settings, echo: bool = False) -> ManagedProcess:
    return ManagedProcess(
        "web", [sys.executable, "-m", "bot.web"], base_environment(settings), settings.log_dir,
        f"http://{settings.host}:{settings.web_port}/healthz", echo,
    )


def train(settings: Settings, model_dir: Path, out: Optional[IO[str]] = None) -> None:
    """`rasa train`: Rasa's fingerprint skips training when data, domain and config are unchanged."""
    model_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(BIN / "rasa"), "train", "--out", str(model_dir), "--config", "config.yml",
         "--domain", "domain.yml", "--data", "data"],
        env=base_environment(settings), cwd=PROJECT_ROOT, check=True,
    )


def start_all(settings: Settings, model_dir: Path, echo: bool = False) -> List[ManagedProcess]:
    """Start the action server, the Rasa server and the web app; returns them once all are healthy."""
    # A server already on one of our ports would answer in our place, silently: refuse instead.
    taken = [port for port in (settings.action_port, settings.rasa_port, settings.web_port)
             if port_in_use(settings.host, port)]
    if taken:
        raise RuntimeError(f"port(s) {taken} on {settings.host} already in use; stop that process or choose other ports")
    started: List[ManagedProcess] = []
    try:
        for make in (lambda: action_server(settings, echo), lambda: rasa_server(settings, model_dir, echo),
                     lambda: web_app(settings, echo)):
            process = make().start()
            started.append(process)
            process.wait_healthy()
    except BaseException:
        stop_all(started)
        raise
    return started


def stop_all(processes: Sequence[ManagedProcess]) -> None:
    for process in reversed(processes):
        process.stop()
