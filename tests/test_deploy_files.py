"""The deployment recipe (docs/DEPLOY.md, deploy/): no container runtime runs here, so the files
are checked for what can go wrong without one."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_every_dependency_is_a_defined_service(compose: dict) -> None:
    services = compose["services"]
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on {needed}, which is not defined"


def test_secrets_come_from_the_env_file_and_are_required(compose: dict) -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{([A-Z_0-9]+)", text))
    assert used == {"POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD",
                    "ACNE_S3_KEY_ID", "ACNE_S3_SECRET", "SITE_ADDRESS"}
    for variable in used:
        assert re.search(r"\$\{" + variable + r":\?", text), f"{variable} must be required"
    # No literal secret: every password-like value is a ${...} reference.
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if re.search(r"(PASSWORD|SECRET|_KEY|KEY_ID)$", key.strip()) and value.strip():
            assert value.strip().startswith("${") or "${" in value, line


def test_the_app_instances_use_the_database_and_object_store_services(compose: dict) -> None:
    from usecases.settings import Settings

    apps = [s for n, s in compose["services"].items() if n.startswith("app")]
    assert len(apps) >= 2, "a multi-site set-up runs several instances"
    for app in apps:
        env = app["environment"]
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["AWS_ENDPOINT_URL"] == "http://minio:9000"
        store = Settings(photo_store=env["ACNE_PHOTO_STORE"]).photo_store  # a valid address
        assert store.startswith("s3://")
        assert app["command"][:2] == ["acne", "serve"]
        assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert compose["services"]["migrate"]["command"] == ["acne", "migrate"]


def test_the_proxy_is_sticky_and_checks_health() -> None:
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "lb_policy cookie" in caddy and "health_uri /_stcore/health" in caddy
    assert "reverse_proxy app1:8501 app2:8501" in caddy


def test_the_commands_the_containers_run_exist() -> None:
    from usecases.cli import acne

    names = {command.name for command in acne.SUBCOMMANDS}
    assert {"serve", "migrate"} <= names
