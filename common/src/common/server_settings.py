"""gunicorn's settings for every Flask service, read once from the environment into one typed object.

`common.gunicorn_conf` (and `mlapp.gunicorn_conf`, which only changes the defaults) turn it into gunicorn's
module-level names; `dbapp.config` takes `read_only_port` from here so the listener gunicorn binds and the port
the app refuses writes on are the same number, parsed by one rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.settings import ConfigError, env_int


def read_only_port(env: Mapping[str, str]) -> int | None:
    """READ_ONLY_PORT: a second listener on which the app serves only reads; unset or 0 means none."""
    return env_int(env, "READ_ONLY_PORT", 0, minimum=0, maximum=65535) or None


@dataclass(frozen=True)
class ServerSettings:
    host: str  # HOST
    port: int  # PORT
    read_only_port: int | None  # READ_ONLY_PORT
    workers: int  # GUNICORN_WORKERS
    threads: int  # GUNICORN_THREADS
    worker_class: str  # GUNICORN_WORKER_CLASS: gunicorn's name or dotted path of a worker type
    timeout: int  # GUNICORN_TIMEOUT: a worker silent this long is restarted
    graceful_timeout: int  # GUNICORN_GRACEFUL_TIMEOUT: after SIGTERM, how long requests in flight may finish
    service_name: str  # SERVICE_NAME: the `service` field of gunicorn's own log lines

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, default_port: int = 8080, default_service: str = "gunicorn"
    ) -> ServerSettings:
        ports = env_int(env, "PORT", default_port, minimum=1, maximum=65535), read_only_port(env)
        if ports[0] == ports[1]:
            raise ConfigError(f"READ_ONLY_PORT must differ from PORT (both are {ports[0]})")
        return cls(
            host=env.get("HOST") or "0.0.0.0",
            port=ports[0],
            read_only_port=ports[1],
            workers=env_int(env, "GUNICORN_WORKERS", 2, minimum=1, maximum=64),
            threads=env_int(env, "GUNICORN_THREADS", 4, minimum=1, maximum=256),
            worker_class=(env.get("GUNICORN_WORKER_CLASS") or "gthread").strip(),
            timeout=env_int(env, "GUNICORN_TIMEOUT", 60, minimum=0),
            graceful_timeout=env_int(env, "GUNICORN_GRACEFUL_TIMEOUT", 20, minimum=0),
            service_name=env.get("SERVICE_NAME") or default_service,
        )

    @property
    def bind(self) -> list[str]:
        ports = [self.port] if self.read_only_port is None else [self.port, self.read_only_port]
        return [f"{self.host}:{port}" for port in ports]
