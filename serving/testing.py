"""Helpers for tests and benchmarks of the demo: spoken questions, and a `tome serve` process on a free port.

`running_server` starts ``python -m tomecraft.cli serve`` bound to 127.0.0.1 with a network guard: a
``sitecustomize`` that refuses (and records) every connection to an address outside the loopback range, so a
test can show the page works with no network and assert that the server tried no outbound call.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_GUARD = r'''
import ipaddress, json, os, socket

_LOG = os.environ["TOME_OUTBOUND_LOG"]
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _outside(address):
    if not isinstance(address, tuple) or not address:
        return False  # unix socket
    host = str(address[0])
    if host == "localhost":
        return False
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return True
    return not (ip.is_loopback or ip.is_unspecified)


def _record(address):
    with open(_LOG, "a") as fh:
        fh.write(json.dumps([str(a) for a in address]) + "\n")


def connect(self, address):
    if _outside(address):
        _record(address)
        raise ConnectionRefusedError(f"network guard: outbound connection to {address!r} refused")
    return _connect(self, address)


def connect_ex(self, address):
    if _outside(address):
        _record(address)
        return 111
    return _connect_ex(self, address)


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
'''


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def espeak_wav(text: str, path: str | os.PathLike[str], *, voice: str | None = None, speed: int | None = None) -> Path:
    """Speak ``text`` into a WAV file with espeak-ng (Debian package ``espeak-ng``)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng not found: install the Debian package espeak-ng (scripts/install.sh)")
    cmd = [exe, "-w", str(path)]
    if voice:
        cmd += ["-v", voice]
    if speed:
        cmd += ["-s", str(speed)]
    subprocess.run([*cmd, text], check=True, capture_output=True)
    return Path(path)


@dataclass
class ServerHandle:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    outbound_log: Path

    def outbound_attempts(self) -> list[list[str]]:
        """Connections the server tried to open outside the loopback range (all were refused)."""
        if not self.outbound_log.exists():
            return []
        return [json.loads(line) for line in self.outbound_log.read_text().splitlines() if line.strip()]

    def log_tail(self, n: int = 40) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return "\n".join(lines[-n:])

    def alive(self) -> bool:
        return self.process.poll() is None


@contextmanager
def running_server(
    args: list[str] | tuple[str, ...] = (), *, startup_timeout: float = 240.0, workdir: str | os.PathLike[str] | None = None,
) -> Iterator[ServerHandle]:
    """Run ``tome serve ARGS --host 127.0.0.1 --port FREE`` offline and network-guarded; always shut down."""
    tmp = Path(tempfile.mkdtemp(prefix="tome-serve-", dir=workdir))
    guard_dir = tmp / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(_GUARD)
    port = free_port()
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1",
        TOME_OUTBOUND_LOG=str(tmp / "outbound.jsonl"), GRADIO_TEMP_DIR=str(tmp / "gradio"),
        PYTHONPATH=os.pathsep.join(p for p in (str(guard_dir), env.get("PYTHONPATH", "")) if p),
        NO_COLOR="1", PYTHONUNBUFFERED="1",
    )
    env.pop("TOME_SERVE_MODEL", None)
    env.pop("TOME_SERVE_ASR", None)
    env.pop("TOME_SERVE_VOICE", None)
    log_path = tmp / "server.log"
    cmd = [sys.executable, "-m", "tomecraft.cli", "serve", *args, "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    handle = ServerHandle(f"http://127.0.0.1:{port}/", proc, log_path, tmp / "outbound.jsonl")
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"tome serve exited with {proc.returncode}:\n{handle.log_tail()}")
            try:
                with urllib.request.urlopen(handle.url, timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"tome serve did not answer within {startup_timeout:.0f} s:\n{handle.log_tail()}")
            time.sleep(0.5)
        yield handle
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)
