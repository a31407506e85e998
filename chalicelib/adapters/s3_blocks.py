"""The cloud block store: one S3 object per key.

* **Checksummed both ways.** A put sends the SHA-256 of the bytes this process
  holds (``ChecksumSHA256``), so S3 refuses a body damaged on the way;
  ``ChecksumAlgorithm`` makes S3 keep that checksum with the object. A get asks
  for it back (``ChecksumMode=ENABLED``) and botocore checks the body against
  it while reading; a mismatch becomes :class:`CorruptData` and is never
  returned as data.
* **No temp-and-rename.** An S3 PUT is atomic (readers see the old object or
  the new one, never a mix) and durable once acknowledged, which is already
  the :class:`BlockStore` contract.
* **Listing streams.** S3 lists keys in UTF-8 byte order, which for the ASCII
  keys allowed here is Python's sort order, so keys are yielded page by page
  as they arrive instead of holding a snapshot's whole listing in memory.
* **Same keys as the file store.** S3 would take ``../x`` or ``/abs``; a key
  that one backend refuses is refused by both, so the contract tests cannot
  pass on one deployment and fail on the other.

The client is built by the caller (region, endpoint, credentials) and handed
in, so this module holds no configuration.
"""

from __future__ import annotations

import time
from typing import Iterator

from botocore.exceptions import ClientError, FlexibleChecksumError

from ..domain.checksums import sha256_b64
from ..domain.errors import CorruptData, ObjectNotFound
from ..domain.keys import check_key
from ..ports import BlockStore
from .aws_errors import error_code, translates_throttling

_NOT_FOUND = {"NoSuchKey", "404"}


@translates_throttling
class S3BlockStore(BlockStore):
    def __init__(self, s3_client, bucket: str):
        self._s3 = s3_client
        self._bucket = bucket

    def put(self, key: str, data: bytes) -> None:
        digest = sha256_b64(data)
        self._s3.put_object(
            Bucket=self._bucket,
            Key=check_key(key),
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=digest,
        )

    def put_shared(self, key: str, data: bytes, fresh_for: float) -> bool:
        """A HEAD first: an object found costs no upload, and when old is made young by copying it onto itself.

        The copy moves ``LastModified`` without sending the bytes again; it is
        needed only for objects older than ``fresh_for``, so re-uploads of
        recent data cost one HEAD per block instead of a PUT.
        """
        modified = self.modified(key)
        if modified is None:
            self.put(key, data)
            return True
        if time.time() - modified >= fresh_for:
            self._s3.copy_object(
                Bucket=self._bucket,
                Key=check_key(key),
                CopySource={"Bucket": self._bucket, "Key": key},
                MetadataDirective="REPLACE",
                Metadata={"refreshed": str(int(time.time()))},
            )
        return False

    def modified(self, key: str) -> float | None:
        try:
            response = self._s3.head_object(Bucket=self._bucket, Key=check_key(key))
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                return None
            raise
        return response["LastModified"].timestamp()

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=check_key(key))

    def get(self, key: str) -> bytes:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=check_key(key), ChecksumMode="ENABLED")
            return response["Body"].read()
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise ObjectNotFound(key) from exc
            raise
        except FlexibleChecksumError as exc:
            raise CorruptData(f"object {key!r} does not match its stored checksum") from exc

    def list(self, prefix: str) -> Iterator[str]:
        for page in self._pages(prefix):
            yield from (key for key, _ in page)

    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        for page in self._pages(prefix):
            yield from page

    def delete_prefix(self, prefix: str) -> None:
        # A list page and a DeleteObjects call both hold at most 1,000 keys.
        for page in self._pages(prefix):
            response = self._s3.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": key} for key, _ in page], "Quiet": True},
            )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise OSError(
                    f"S3 kept {len(errors)} objects under {prefix!r}; first: "
                    f"{first.get('Key')} ({first.get('Code')}: {first.get('Message')})"
                )

    def _pages(self, prefix: str) -> Iterator[list[tuple[str, int]]]:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            objects = [(obj["Key"], obj["Size"]) for obj in page.get("Contents", ())]
            if objects:
                yield objects
