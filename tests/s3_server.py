"""A real S3 HTTP endpoint for the tests: moto's server mode, started on 127.0.0.1.

Not a mock of the client: boto3 talks HTTP to a separate process, as it would to MinIO or AWS.
What it does not prove (README, "Photos in object storage"): that a server verifies the
checksum it is sent (moto accepts a wrong one; we also compare the checksum it reports back),
and consistency under a real cluster's replication or erasure coding.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Dummy credentials for the test server only; real ones come from the AWS variables or files.
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "test-key-id",
    "AWS_SECRET_ACCESS_KEY": "test-secret-do-not-print",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def moto_available() -> bool:
    try:
        import flask  # noqa: F401 - moto's server mode needs it
        import moto.server  # noqa: F401
    except ImportError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def s3_server(log_dir: Path) -> Iterator[str]:
    """Start moto's S3 server; yield its endpoint URL; stop it."""
    port = _free_port()
    log = (log_dir / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **TEST_ENV},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto's S3 server did not start (see {log.name})") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def make_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, **_client_kwargs()).create_bucket(Bucket=bucket)


def _client_kwargs() -> dict[str, str]:
    return {"aws_access_key_id": TEST_ENV["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": TEST_ENV["AWS_SECRET_ACCESS_KEY"],
            "region_name": TEST_ENV["AWS_REGION"]}


def client(endpoint: str):  # noqa: ANN201 - a boto3 S3 client
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, **_client_kwargs())
