"""The photo store in S3-compatible object storage: `s3://bucket/prefix` (issue 28).

The same promises and methods as the folder store (`db.photos.PhotoStore`), so every use case
works on either:
- objects are named by the SHA-256 of their bytes (`<prefix>/<sha[:2]>/<sha><ext>`), written
  once (`If-None-Match: *`: a second writer of the same bytes learns the object exists) and
  with a SHA-256 checksum the server verifies on receipt (`ChecksumAlgorithm=SHA256`); the
  checksum the server reports back must equal ours;
- a PUT is atomic in S3, so no partial object is ever visible;
- nothing is deleted on its own: orphans are copied to `<prefix>/quarantine/<UTC time>/` and
  only `empty_quarantine` deletes;
- `<prefix>/store-identity` names the database the store belongs to (db.store_identity).
Endpoint, region and credentials come from the usual AWS variables and files (boto3's own
chain: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ~/.aws/...); none of them is ever put
in a message. boto3 is imported only when an object store is used.
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from db.photos import ALLOWED_EXTENSIONS, IDENTITY_FILE, QUARANTINE_DIR, normalise_extension, sha256_hex

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9._/-]*$")
_BATCH_RE = re.compile(r"^\d{8}T\d{6}\.\d{6}Z$")


class ObjectStoreError(RuntimeError):
    """The object store cannot be reached or refused a request; one sentence, no credentials."""


def parse_store_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket/prefix`; ValueError naming what is wrong (never echoing
    a value that might hold a secret)."""
    if not url.startswith("s3://"):
        raise ValueError("must be empty (the data folder) or s3://BUCKET/PREFIX")
    rest = url[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if "@" in bucket or ":" in bucket:
        raise ValueError("must not hold credentials: give them as AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY or in ~/.aws/credentials")
    if not _BUCKET_RE.match(bucket):
        raise ValueError("names a bucket that S3 does not allow (3-63 lowercase letters, digits, "
                         "dots and hyphens)")
    prefix = prefix.strip("/")
    if not _PREFIX_RE.match(prefix) or ".." in prefix.split("/"):
        raise ValueError("has a prefix with characters other than letters, digits, . _ - and /")
    return bucket, prefix


def _b64(sha256: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256)).decode("ascii")


class S3PhotoStore:
    """Photo and mask objects, named by content, under one bucket prefix."""

    def __init__(self, url: str, client: Any = None) -> None:
        self.bucket, self.prefix = parse_store_url(url)
        self.root = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        if client is None:
            import boto3  # only a clinic on object storage needs it

            client = boto3.client("s3")
        self._s3 = client

    # ------------------------------------------------------------------ keys
    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def key_for(self, sha256: str, extension: str) -> str:
        if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
            raise ValueError(f"{sha256!r} is not a SHA-256 hex digest (64 lowercase hex digits)")
        return self._key(f"{sha256[:2]}/{sha256}{normalise_extension(extension)}")

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._s3, method)(Bucket=self.bucket, **kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(f"stored file {what} is missing") from None
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise FileExistsError(what) from None
            raise ObjectStoreError(f"the object store {self.root} refused to {method.replace('_', ' ')} "
                                   f"{what} ({code or 'error'})") from None
        except BotoCoreError as error:
            raise ObjectStoreError(f"the object store {self.root} cannot be reached "
                                   f"({type(error).__name__})") from None

    def check_reachable(self) -> None:
        """ObjectStoreError when the bucket cannot be reached or read."""
        try:
            self._call("the bucket", "head_bucket")
        except FileNotFoundError:
            raise ObjectStoreError(f"the bucket of {self.root} does not exist") from None

    # ------------------------------------------------------------------ files
    def put(self, data: bytes, extension: str) -> str:
        return self.put_checked(data, extension)[0]

    def put_checked(self, data: bytes, extension: str) -> tuple[str, bool]:
        """Store `data` once; return its SHA-256 and whether this call created the object."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"photo data must be bytes, not {type(data).__name__}")
        data = bytes(data)
        sha256 = sha256_hex(data)
        key = self.key_for(sha256, extension)
        try:
            response = self._call(key, "put_object", Key=key, Body=data, IfNoneMatch="*",
                                  ChecksumAlgorithm="SHA256")
        except FileExistsError:
            return sha256, False
        reported = response.get("ChecksumSHA256")
        if reported is not None and reported != _b64(sha256):
            raise ObjectStoreError(f"the object store {self.root} received other bytes than sent "
                                   f"for {sha256[:12]}: try again")
        return sha256, True

    def read(self, sha256: str, extension: str) -> bytes:
        key = self.key_for(sha256, extension)
        body = self._call(f"{sha256}{extension}", "get_object", Key=key)["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def exists(self, sha256: str, extension: str) -> bool:
        try:
            self._call(f"{sha256}{extension}", "head_object", Key=self.key_for(sha256, extension))
        except FileNotFoundError:
            return False
        return True

    def delete(self, sha256: str, extension: str) -> bool:
        if not self.exists(sha256, extension):
            return False
        self._call(f"{sha256}{extension}", "delete_object", Key=self.key_for(sha256, extension))
        return True

    def age_seconds(self, sha256: str, extension: str) -> float:
        head = self._call(f"{sha256}{extension}", "head_object",
                          Key=self.key_for(sha256, extension))
        return (datetime.now(timezone.utc) - head["LastModified"]).total_seconds()

    def _list(self, under: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": self._key(under)}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("the listing", "list_objects_v2", **kwargs)
            yield from page.get("Contents", [])
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    def _relative(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key

    def iter_files(self) -> Iterator[tuple[str, str]]:
        """Every stored object as (sha256, extension); quarantine and other keys are skipped."""
        for item in self._list(""):
            parts = self._relative(item["Key"]).split("/")
            if len(parts) != 2 or len(parts[0]) != 2:
                continue
            name = parts[1]
            stem, dot, ext = name.partition(".")
            extension = f"{dot}{ext}".lower()
            if _SHA256_RE.match(stem) and stem[:2] == parts[0] and extension in ALLOWED_EXTENSIONS:
                yield stem, extension

    def verify(self, sha256: str, extension: str) -> bool:
        return hashlib.sha256(self.read(sha256, extension)).hexdigest() == sha256

    def stale_temp_files(self, older_than_s: float) -> list[Any]:
        """None: an object store never shows a half-written object."""
        del older_than_s
        return []

    def has_files(self) -> bool:
        return next(self.iter_files(), None) is not None

    def leftover_count(self) -> int:
        """Objects under the prefix other than the identity (a restore needs none)."""
        return sum(1 for item in self._list("")
                   if self._relative(item["Key"]) != IDENTITY_FILE)

    # ------------------------------------------------------------------ quarantine
    def new_quarantine_batch(self) -> str:
        return f"{QUARANTINE_DIR}/{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S.%fZ')}"

    def quarantine(self, sha256: str, extension: str, batch: str) -> bool:
        """Copy the object into quarantine, then delete the original (the copy is checked)."""
        key = self.key_for(sha256, extension)
        target = self._key(f"{batch}/{sha256}{normalise_extension(extension)}")
        try:
            self._call(key, "copy_object", Key=target,
                       CopySource={"Bucket": self.bucket, "Key": key})
        except FileNotFoundError:
            return False
        self._call(key, "delete_object", Key=key)
        return True

    def quarantine_path(self, path: Any, batch: str) -> bool:
        raise ValueError(f"{path} is not an object of this store")

    def quarantined_files(self) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        for item in sorted(self._list(f"{QUARANTINE_DIR}/"), key=lambda i: i["Key"], reverse=True):
            parts = self._relative(item["Key"]).split("/")
            if len(parts) != 3 or not _BATCH_RE.match(parts[1]):
                continue
            stem, dot, ext = parts[2].partition(".")
            extension = f"{dot}{ext}".lower()
            if _SHA256_RE.match(stem) and extension in ALLOWED_EXTENSIONS:
                found.setdefault((stem, extension), item["Key"])
        return found

    def quarantine_batches(self) -> list[str]:
        batches = {self._relative(i["Key"]).split("/")[1] for i in self._list(f"{QUARANTINE_DIR}/")
                   if len(self._relative(i["Key"]).split("/")) == 3}
        return sorted((f"{QUARANTINE_DIR}/{b}" for b in batches if _BATCH_RE.match(b)),
                      reverse=True)

    def release_from_quarantine(self, sha256: str, extension: str) -> bool:
        source = self.quarantined_files().get((sha256, normalise_extension(extension)))
        if source is None:
            return False
        body = self._call(source, "get_object", Key=source)["Body"]
        data = body.read()
        if sha256_hex(data) != sha256:
            return False
        self.put_checked(data, extension)
        self._call(source, "delete_object", Key=source)
        return True

    def empty_quarantine(self, older_than_s: float = 0.0) -> int:
        removed = 0
        now = datetime.now(timezone.utc)
        for batch in self.quarantine_batches():
            made = datetime.strptime(batch.split("/")[1].split(".")[0], "%Y%m%dT%H%M%S").replace(
                tzinfo=timezone.utc)
            if (now - made).total_seconds() < older_than_s:
                continue
            for item in list(self._list(f"{batch}/")):
                self._call("a quarantined file", "delete_object", Key=item["Key"])
                removed += 1
        return removed

    # ------------------------------------------------------------------ identity
    def read_identity(self) -> str | None:
        key = self._key(IDENTITY_FILE)
        try:
            body = self._call("the store identity", "get_object", Key=key)["Body"]
        except FileNotFoundError:
            return None
        return body.read().decode("ascii").strip() or None

    def write_identity(self, database_id: str) -> str:
        key = self._key(IDENTITY_FILE)
        try:
            self._call("the store identity", "put_object", Key=key,
                       Body=(database_id + "\n").encode("ascii"), IfNoneMatch="*",
                       ChecksumAlgorithm="SHA256")
        except FileExistsError:
            return self.read_identity() or ""
        return database_id

    def forget_identity(self) -> None:
        try:
            self._call("the store identity", "delete_object", Key=self._key(IDENTITY_FILE))
        except FileNotFoundError:
            pass
