"""Fixtures for the docker compose end-to-end test (see README.md).

`cluster` (module scope) brings up the repository's docker-compose.yml as its
own compose project: the base image is made if missing
(docker/make-base-image.sh), the image is built from the Dockerfile, and the
test waits (bounded) until every container is healthy. At the end the project
is always taken down with `down -v` (containers, network, volumes), also when
a test or the start-up failed. A failing test gets the tail of every
container's log attached to its report.

Without docker, compose, or a reachable docker daemon the tests SKIP, saying
why. A missing pweb-update binary or dig is a failure.
"""
from __future__ import annotations

import ipaddress
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_UPDATE = REPO / "build" / "registrar" / "updater" / "pweb-update"

# Bounds of every wait (seconds). The build compiles the project in the image.
BASE_IMAGE_TIMEOUT = 900
BUILD_UP_TIMEOUT = 3000
HEALTHY_TIMEOUT = 180
COMPOSE_TIMEOUT = 180
LOG_TAIL = 150

SERVICES = ("gateway", "uw", "ut", "mit")
# docker-compose.ha.yml on top: uw2 serves label uw with uw, from PostgreSQL.
HA_FILES = ("docker-compose.yml", "docker-compose.ha.yml")
HA_SERVICES = SERVICES + ("uw2", "postgres")
HA_PORTS = {"PWEB_UW2_DNS_PORT": 5304, "PWEB_UW2_HTTP_PORT": 8084}
# Host ports of the compose file's defaults; busy ones are replaced by free ones.
DEFAULT_PORTS = {
    "PWEB_GATEWAY_DNS_PORT": 5300, "PWEB_UW_DNS_PORT": 5301, "PWEB_UT_DNS_PORT": 5302,
    "PWEB_MIT_DNS_PORT": 5303, "PWEB_GATEWAY_HTTP_PORT": 8080, "PWEB_UW_HTTP_PORT": 8081,
    "PWEB_UT_HTTP_PORT": 8082, "PWEB_MIT_HTTP_PORT": 8083,
}


def skip_loudly(reason: str) -> None:
    banner = "=" * 72
    print(f"\n{banner}\nSKIPPED: docker compose end-to-end test: {reason}\n{banner}",
          file=sys.stderr, flush=True)
    pytest.skip(f"docker compose end-to-end test: {reason}")


def run(cmd: Sequence[str], timeout: float, env: Optional[Dict[str, str]] = None,
        input: Optional[str] = None, check: bool = True) -> subprocess.CompletedProcess:
    try:
        p = subprocess.run(list(cmd), input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout, env=env,
                           cwd=REPO)
    except subprocess.TimeoutExpired as e:
        out = e.output.decode(errors="replace") if isinstance(e.output, bytes) else (e.output or "")
        raise AssertionError(f"{' '.join(cmd)} did not finish within {timeout:.0f} s; "
                             f"output tail:\n{out[-4000:]}") from None
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}; output tail:\n"
                             f"{p.stdout[-4000:]}")
    return p


def compose_command() -> List[str]:
    """`docker compose` (v2) if present, else `docker-compose` (v1, Debian 12's
    package); PWEB_COMPOSE overrides (e.g. PWEB_COMPOSE=docker-compose)."""
    if os.environ.get("PWEB_COMPOSE"):
        return os.environ["PWEB_COMPOSE"].split()
    candidates = [["docker", "compose"], ["docker-compose"]]
    for c in candidates:
        if shutil.which(c[0]) is None:
            continue
        try:
            if subprocess.run(c + ["version"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=30).returncode == 0:
                return c
        except subprocess.TimeoutExpired:
            continue
    return []


def port_free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def choose_ports(defaults: Dict[str, int] = DEFAULT_PORTS) -> Dict[str, int]:
    ports: Dict[str, int] = {}
    rng = random.Random()
    for var, default in defaults.items():
        port = default
        tries = 0
        while not port_free(port) or port in ports.values():
            tries += 1
            assert tries < 200, "no free host port found"
            port = rng.randint(20000, 32000)
        ports[var] = port
    return ports


def choose_subnet() -> str:
    """A 172.28.N.0/24 no docker network uses (the compose file pins addresses)."""
    ids = run(["docker", "network", "ls", "-q"], 30).stdout.split()
    used = []
    if ids:
        for net in json.loads(run(["docker", "network", "inspect"] + ids, 30).stdout):
            for cfg in (net.get("IPAM") or {}).get("Config") or []:
                if cfg.get("Subnet"):
                    used.append(ipaddress.ip_network(cfg["Subnet"], strict=False))
    for n in list(range(53, 256)) + list(range(0, 53)):
        candidate = ipaddress.ip_network(f"172.28.{n}.0/24")
        if not any(candidate.overlaps(u) for u in used if u.version == 4):
            return f"172.28.{n}"
    raise AssertionError("no free 172.28.N.0/24 subnet for the compose network")


class Compose:
    """One compose project made from the repository's docker-compose.yml (and
    the other compose files given)."""

    def __init__(self, cmd: List[str], project: str, env: Dict[str, str], ports: Dict[str, int],
                 tmp: Path, files: Sequence[str] = ("docker-compose.yml",),
                 services: Sequence[str] = SERVICES) -> None:
        self.cmd = cmd
        self.project = project
        self.env = env
        self.ports = ports
        self.tmp = tmp
        self.files = list(files)
        self.services = tuple(services)

    def __call__(self, *args: str, timeout: float = COMPOSE_TIMEOUT, check: bool = True,
                 input: Optional[str] = None) -> subprocess.CompletedProcess:
        files = [a for f in self.files for a in ("-f", str(REPO / f))]
        return run(self.cmd + ["-p", self.project] + files + list(args), timeout, env=self.env,
                   input=input, check=check)

    def dns_port(self, service: str) -> int:
        return self.ports[f"PWEB_{service.upper()}_DNS_PORT"]

    def http_port(self, service: str) -> int:
        return self.ports[f"PWEB_{service.upper()}_HTTP_PORT"]

    def container(self, service: str) -> str:
        cid = self("ps", "-q", service, timeout=60).stdout.strip()
        assert cid, f"compose has no container for {service}"
        return cid.splitlines()[0]

    def state(self, service: str) -> Dict[str, object]:
        out = run(["docker", "inspect", "-f", "{{json .State}}", self.container(service)], 30)
        return json.loads(out.stdout)

    def health(self, service: str) -> str:
        st = self.state(service)
        if not st.get("Running"):
            return f"not running (status {st.get('Status')}, exit code {st.get('ExitCode')})"
        return (st.get("Health") or {}).get("Status", "no health check")

    def wait_healthy(self, services: Optional[Sequence[str]] = None,
                     timeout: float = HEALTHY_TIMEOUT) -> float:
        """Waits until every service's container is healthy; returns the seconds it took.
        A container that is no longer running fails at once (it will not get healthy)."""
        services = self.services if services is None else services
        started = time.monotonic()
        while True:
            states = {s: self.health(s) for s in services}
            bad = {s: h for s, h in states.items() if h != "healthy"}
            if not bad:
                return time.monotonic() - started
            dead = {s: h for s, h in bad.items() if h.startswith("not running")}
            if dead:
                raise AssertionError(f"containers stopped before getting healthy: {dead}")
            if time.monotonic() - started > timeout:
                raise AssertionError(f"containers not healthy within {timeout:.0f} s: {bad}")
            time.sleep(1)

    def logs(self) -> str:
        try:
            return self("logs", "--no-color", "--timestamps", f"--tail={LOG_TAIL}",
                        timeout=60, check=False).stdout
        except AssertionError as e:
            return f"(could not read the logs: {e})"

    def down(self) -> None:
        self("down", "-v", "--remove-orphans", "--timeout", "10", check=False)


_CURRENT: List[Compose] = []


@pytest.fixture(scope="session")
def prerequisites() -> Dict[str, object]:
    """Docker, compose and a daemon, or a loud skip; dig and pweb-update, or a failure."""
    if shutil.which("docker") is None:
        skip_loudly("the docker command is not installed (apt-get install docker.io)")
    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=30)
    except subprocess.TimeoutExpired:
        skip_loudly("the docker daemon did not answer `docker info` within 30 s")
    if info.returncode != 0:
        skip_loudly(f"the docker daemon is not reachable: {info.stdout.strip()[-500:]}")
    compose = compose_command()
    if not compose:
        skip_loudly("neither `docker compose` nor `docker-compose` works "
                    "(apt-get install docker-compose)")
    if shutil.which("dig") is None:
        pytest.fail("dig is not installed (apt-get install bind9-dnsutils)", pytrace=False)
    update = os.environ.get("PWEB_UPDATE", str(DEFAULT_UPDATE))
    if not (os.path.isfile(update) and os.access(update, os.X_OK)):
        pytest.fail(f"pweb-update not found or not executable: {update!r}; build it "
                    f"(cmake --build build --target pweb-update) or set PWEB_UPDATE",
                    pytrace=False)
    return {"compose": compose, "update": update}


@pytest.fixture(scope="module")
def cluster(prerequisites, tmp_path_factory) -> Compose:
    yield from bring_up(prerequisites, tmp_path_factory, ("docker-compose.yml",), SERVICES,
                        DEFAULT_PORTS)


@pytest.fixture(scope="module")
def ha_cluster(prerequisites, tmp_path_factory) -> Compose:
    """The main file with docker-compose.ha.yml: uw and uw2 serve label uw."""
    yield from bring_up(prerequisites, tmp_path_factory, HA_FILES, HA_SERVICES,
                        {**DEFAULT_PORTS, **HA_PORTS})


def bring_up(prerequisites, tmp_path_factory, files: Sequence[str], services: Sequence[str],
             default_ports: Dict[str, int]):
    """Builds, starts and waits for one compose project; always takes it down."""
    tmp = tmp_path_factory.mktemp("compose")
    # The test's own users (and the env file path the compose file reads).
    env_file = tmp / "pweb.env"
    env_file.write_text("PWEB_USERS=alice:Al1ce:pass,carol:c4rol-pw\n")
    env = dict(os.environ)
    env.update({"PWEB_ENV_FILE": str(env_file), "PWEB_PUBLISH_ADDR": "127.0.0.1"})
    project = f"pwebe2e{os.getpid()}{random.randint(0, 9999):04d}"
    c = Compose(prerequisites["compose"], project, env, {}, tmp, files, services)
    c.passwords = {"alice": "Al1ce:pass", "carol": "c4rol-pw"}  # type: ignore[attr-defined]
    _CURRENT.append(c)
    try:
        try:
            started = time.monotonic()
            run([str(REPO / "docker" / "make-base-image.sh")], BASE_IMAGE_TIMEOUT)
            based = time.monotonic()
            # Build first: ports and subnet are chosen just before `up`, not
            # minutes earlier, so nothing else can take them in between.
            c("build", timeout=BUILD_UP_TIMEOUT)
            c.ports.update(choose_ports(default_ports))
            subnet = choose_subnet()
            env.update({k: str(v) for k, v in c.ports.items()})
            env["PWEB_SUBNET"] = subnet
            print(f"\ncompose project {project}: {' '.join(c.cmd)}, subnet {subnet}.0/24, "
                  f"ports {c.ports}", file=sys.stderr)
            c("up", "-d", "--build", timeout=BUILD_UP_TIMEOUT)
            built = time.monotonic()
            healthy = c.wait_healthy()
        except AssertionError as e:
            # The teardown below removes the containers: keep their logs in the message.
            raise AssertionError(f"the compose cluster did not start: {e}\n"
                                 f"--- compose logs ---\n{c.logs()}") from None
        print(f"base image {based - started:.0f} s, build+up {built - based:.0f} s, "
              f"healthy {healthy:.0f} s later", file=sys.stderr)
        yield c
    finally:
        c.down()
        _CURRENT.remove(c)
        left = run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
                   30, check=False).stdout.split()
        vols = run(["docker", "volume", "ls", "-q", "--filter",
                    f"label=com.docker.compose.project={project}"], 30, check=False).stdout.split()
        assert not left and not vols, \
            f"`down -v` left containers {left} and volumes {vols} of project {project}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call") and _CURRENT:
        c = _CURRENT[-1]
        try:
            ps = c("ps", timeout=60, check=False).stdout
        except AssertionError as e:
            ps = str(e)
        rep.sections.append((f"compose ps (project {c.project})", ps))
        rep.sections.append((f"compose logs, last {LOG_TAIL} lines per container", c.logs()))
