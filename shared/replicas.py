"""Several replicas of each service behind HAProxy, on one machine: what the replica test
(tests/e2e/test_replicas.py) and benchmark (bench/replicas.py) run.

The layout is the one a deployment with `deploy.replicas: N` and a load balancer has:

- N uvicorn processes per service (`shared.serve`, one worker each), each on a port of its own,
  so a test can reach replica `a` or `b` of a service directly;
- one HAProxy process with a frontend per service that balances requests round-robin over that
  service's replicas (per request, also on kept-alive connections), health-checks them on
  `/healthz`, adds `X-Forwarded-For`, and names the replica that answered in `X-Served-By`;
- the services find each other through the frontends (REGISTRY_URL, COMPETITIONS_URL and
  JUDGING_URL point at HAProxy), as they would through a Kubernetes Service;
- any number of webhook dispatchers (`python -m shared.webhooks`).

HAProxy is the Debian package `haproxy`; `find_haproxy` runs scripts/install_haproxy.sh when it
is missing (HAPROXY_AUTO_INSTALL=0 turns that off) and answers None when it cannot be had.
"""

from __future__ import annotations

import os
import shutil
import string
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.config import PROJECT_ROOT, SERVICE_PORTS
from shared.processes import die_with_parent, service_command, start_dispatcher, stop_services

INSTALL_SCRIPT = PROJECT_ROOT / "scripts" / "install_haproxy.sh"
#: The response header HAProxy adds: which replica (server name) answered.
SERVED_BY = "x-served-by"


def find_haproxy(*, install: bool = True) -> str | None:
    """The path of `haproxy`, installing the package first when it is missing and `install`
    (and HAPROXY_AUTO_INSTALL is not 0); None when it cannot be had."""
    found = shutil.which("haproxy")
    if found or not install or os.environ.get("HAPROXY_AUTO_INSTALL", "1") == "0":
        return found
    try:
        subprocess.run(  # noqa: S603 - our own script
            ["/bin/sh", str(INSTALL_SCRIPT)], check=False, timeout=600, capture_output=True
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return shutil.which("haproxy")


def replica_names(count: int) -> list[str]:
    """`a`, `b`, ... (the server names HAProxy reports in X-Served-By)."""
    return list(string.ascii_lowercase[:count])


def haproxy_config(
    frontends: dict[str, int], backends: dict[str, dict[str, int]], host: str = "127.0.0.1"
) -> str:
    """A configuration balancing each service's frontend port over its replicas' ports."""
    lines = [
        "global",
        "    maxconn 4000",  # within a common open-files limit (HAProxy needs 2 per connection)
        "    nbthread 1",  # a small machine: the services need the cores more
        "",
        "defaults",
        "    mode http",
        "    option forwardfor",  # X-Forwarded-For: the services see the client's address
        "    retries 2",
        "    option redispatch",  # a connection refused by a replica is tried on another
        "    timeout connect 2s",
        "    timeout client 120s",
        "    timeout server 120s",
        "    timeout http-keep-alive 60s",
        "    default-server check inter 1s fall 2 rise 1",
        "",
    ]
    for service, port in frontends.items():
        lines += [
            f"frontend {service}",
            f"    bind {host}:{port}",
            f"    default_backend {service}",
            "",
            f"backend {service}",
            "    balance roundrobin",
            "    option httpchk GET /healthz",
            "    http-check expect status 200",
            "    http-response set-header X-Served-By %[srv_name]",
        ]
        lines += [f"    server {name} {host}:{p}" for name, p in backends[service].items()]
        lines.append("")
    return "\n".join(lines)


@dataclass
class Topology:
    #: service -> the HAProxy frontend's URL
    lb: dict[str, str]
    #: service -> {replica name: URL of that replica}
    replicas: dict[str, dict[str, str]]
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def logs(self, size: int = 4000) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-size:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )

    def service_pids(self) -> list[int]:
        return [p.pid for name, p in self.procs.items() if name.split("-")[0] in SERVICE_PORTS]

    def stop(self) -> None:
        stop_services(self.procs)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 - our own interpreter, module or HAProxy
            cmd,
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )


def start(
    env: dict[str, str],
    log_dir: Path,
    *,
    replicas: int = 2,
    dispatchers: int = 0,
    haproxy: str = "haproxy",
    extra: tuple[str, ...] = (),
    timeout: float = 180,
) -> Topology:
    """Start HAProxy, `replicas` processes of each service and `dispatchers` dispatchers; return
    once every replica answers /readyz directly and every frontend has reached every replica.
    `env` is completed with the frontends' URLs (REGISTRY_URL...)."""
    host = "127.0.0.1"
    names = replica_names(replicas)
    frontends = {s: _free_port() for s in SERVICE_PORTS}
    backends = {s: {n: _free_port() for n in names} for s in SERVICE_PORTS}
    lb = {s: f"http://{host}:{p}" for s, p in frontends.items()}
    direct = {
        s: {n: f"http://{host}:{p}" for n, p in ports.items()} for s, ports in backends.items()
    }
    env = env | {f"{s.upper()}_URL": url for s, url in lb.items()}
    config = log_dir / "haproxy.cfg"
    config.write_text(haproxy_config(frontends, backends, host))
    topology = Topology(lb=lb, replicas=direct, env=env, log_dir=log_dir)
    procs = topology.procs
    try:
        procs["haproxy"] = _spawn([haproxy, "-db", "-f", str(config)], env, log_dir / "haproxy.log")
        for service, ports in backends.items():
            for name, port in ports.items():
                procs[f"{service}-{name}"] = _spawn(
                    service_command(service, host, port, 1, extra),
                    env,
                    log_dir / f"{service}-{name}.log",
                )
        for i in range(dispatchers):
            name = f"dispatcher-{names[i] if i < len(names) else i}"
            procs[name] = start_dispatcher(env, log_dir, name)
        _wait_ready(topology, timeout)
    except BaseException:
        topology.stop()
        raise
    return topology


def _wait_ready(topology: Topology, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = {
        (service, name): url
        for service, urls in topology.replicas.items()
        for name, url in urls.items()
    }
    # Through each frontend: every replica must have answered once (HAProxy sees it up).
    unseen = {(service, name) for service, name in pending}
    with httpx.Client(timeout=2) as http:
        while pending or unseen:
            for name, proc in topology.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with code {proc.returncode}:\n{topology.logs()}"
                    )
            for key, url in list(pending.items()):
                try:
                    if http.get(url + "/readyz").status_code == 200:
                        del pending[key]
                except httpx.HTTPError:
                    pass
            if not pending:
                for service, url in topology.lb.items():
                    try:
                        answer = http.get(url + "/readyz")
                    except httpx.HTTPError:
                        continue
                    if answer.status_code == 200:
                        unseen.discard((service, answer.headers.get(SERVED_BY, "")))
            if (pending or unseen) and time.monotonic() > deadline:
                left = sorted({f"{s}-{n}" for s, n in {*pending, *unseen}})
                raise RuntimeError(f"not ready after {timeout:.0f}s: {left}\n{topology.logs()}")
            time.sleep(0.1)
