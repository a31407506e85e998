"""EncryptionService over the embedded key service and the memory block store."""

from __future__ import annotations

import base64
import json
import os

import pytest

from chalicelib.adapters.encryption_wire import raise_error
from chalicelib.adapters.memory_blocks import MemoryBlockStore
from chalicelib.domain import keys
from chalicelib.domain.checksums import sha256_b64
from chalicelib.domain.errors import CorruptData, DependencyAccessDenied, ValidationError
from chalicelib.encryption.lambda_entry import answer_invocation
from chalicelib.encryption.service import KEY_CACHE_SECONDS, EncryptionService
from chalicelib.encryption.local_kms import LocalKeyService

LINEAGE = "snap-0123456789abcdef0"
OTHER_LINEAGE = "snap-0123456789abcdef1"
ARN = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555"
BLOCK = os.urandom(512 * 1024)
OBJECT_KEY = keys.block_key(LINEAGE, 7, sha256_b64(BLOCK))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingKeys(LocalKeyService):
    def __init__(self, directory):
        super().__init__(directory)
        self.generated = 0
        self.decrypted = 0

    def generate_data_key(self, key_id, context):
        self.generated += 1
        return super().generate_data_key(key_id, context)

    def decrypt(self, wrapped, context):
        self.decrypted += 1
        return super().decrypt(wrapped, context)


@pytest.fixture
def kms(tmp_path) -> CountingKeys:
    return CountingKeys(tmp_path / "kms")


@pytest.fixture
def store() -> MemoryBlockStore:
    return MemoryBlockStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(kms, store, clock) -> EncryptionService:
    return EncryptionService(kms, store, clock)


def test_encrypt_then_decrypt(service):
    service.create_lineage_key(LINEAGE, ARN)
    ciphertext = service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    assert BLOCK[:64] not in ciphertext
    assert service.decrypt(LINEAGE, OBJECT_KEY, ciphertext) == BLOCK


def test_the_stored_key_is_wrapped_only(service, store):
    service.create_lineage_key(LINEAGE, ARN)
    stored = json.loads(store.get(keys.lineage_key(LINEAGE)))
    assert stored["KmsKeyArn"] == ARN
    assert set(stored) == {"KmsKeyArn", "CiphertextBlob"}
    assert list(store.list("")) == [keys.lineage_key(LINEAGE)]


def test_create_lineage_key_is_idempotent(service, kms, store):
    service.create_lineage_key(LINEAGE, ARN)
    first = store.get(keys.lineage_key(LINEAGE))
    ciphertext = service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    service.create_lineage_key(LINEAGE, ARN)
    assert store.get(keys.lineage_key(LINEAGE)) == first
    assert kms.generated == 1
    assert service.decrypt(LINEAGE, OBJECT_KEY, ciphertext) == BLOCK


def test_a_new_process_unwraps_the_stored_key(service, kms, store, clock):
    service.create_lineage_key(LINEAGE, ARN)
    ciphertext = service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    fresh = EncryptionService(kms, store, clock)
    assert fresh.decrypt(LINEAGE, OBJECT_KEY, ciphertext) == BLOCK
    assert fresh.decrypt(LINEAGE, OBJECT_KEY, ciphertext) == BLOCK
    assert kms.decrypted == 1  # the second read used the cached key


def test_the_cache_expires(service, kms, clock):
    service.create_lineage_key(LINEAGE, ARN)
    ciphertext = service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    clock.now += KEY_CACHE_SECONDS
    service.decrypt(LINEAGE, OBJECT_KEY, ciphertext)
    assert kms.decrypted == 1


def test_the_cache_is_bounded(kms, store, clock):
    service = EncryptionService(kms, store, clock, cache_lineages=1)
    service.create_lineage_key(LINEAGE, ARN)
    service.create_lineage_key(OTHER_LINEAGE, ARN)
    ciphertext = service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    assert kms.decrypted == 1  # LINEAGE had been evicted by OTHER_LINEAGE
    service.decrypt(LINEAGE, OBJECT_KEY, ciphertext)
    assert kms.decrypted == 1


def test_deleting_the_lineage_key_shreds_its_blocks(service, store, clock):
    service.create_lineage_key(LINEAGE, ARN)
    ciphertext = service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    store.delete_prefix(keys.lineage_key(LINEAGE))
    clock.now += KEY_CACHE_SECONDS  # a running function forgets the key within its TTL
    deleted = f"data key of lineage {LINEAGE} has been deleted"
    with pytest.raises(DependencyAccessDenied, match=deleted) as caught:
        service.decrypt(LINEAGE, OBJECT_KEY, ciphertext)
    assert caught.value.reason == "DEPENDENCY_ACCESS_DENIED"


def test_a_lineage_without_a_key_cannot_encrypt(service):
    with pytest.raises(DependencyAccessDenied):
        service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)


def test_tampered_ciphertext_is_corrupt_data(service):
    service.create_lineage_key(LINEAGE, ARN)
    ciphertext = bytearray(service.encrypt(LINEAGE, OBJECT_KEY, BLOCK))
    ciphertext[4096] ^= 0x01
    with pytest.raises(CorruptData, match=OBJECT_KEY):
        service.decrypt(LINEAGE, OBJECT_KEY, bytes(ciphertext))


def test_ciphertext_moved_to_another_index_or_snapshot_fails(service):
    service.create_lineage_key(LINEAGE, ARN)
    ciphertext = service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    digest = sha256_b64(BLOCK)
    for elsewhere in (
        keys.block_key(LINEAGE, 8, digest),
        keys.block_key("snap-0123456789abcdef2", 7, digest),
        keys.sub_block_key(LINEAGE, 7, 0, 4096, digest),
    ):
        with pytest.raises(CorruptData):
            service.decrypt(LINEAGE, elsewhere, ciphertext)


def test_another_lineage_cannot_decrypt(service):
    service.create_lineage_key(LINEAGE, ARN)
    service.create_lineage_key(OTHER_LINEAGE, ARN)
    ciphertext = service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    with pytest.raises(CorruptData):
        service.decrypt(OTHER_LINEAGE, OBJECT_KEY, ciphertext)


def test_a_wrapped_key_moved_to_another_lineage_fails(service, store, clock):
    service.create_lineage_key(LINEAGE, ARN)
    store.put(keys.lineage_key(OTHER_LINEAGE), store.get(keys.lineage_key(LINEAGE)))
    with pytest.raises(CorruptData, match="InvalidCiphertextException"):
        service.encrypt(OTHER_LINEAGE, OBJECT_KEY, BLOCK)


@pytest.mark.parametrize("lineage_id", ["snap-123", "../keys", "keys/snap-0123456789abcdef0", "", None])
def test_invalid_lineage_ids_are_refused_before_storage(service, store, lineage_id):
    with pytest.raises(ValidationError, match="lineage id"):
        service.create_lineage_key(lineage_id, ARN)
    with pytest.raises(ValidationError, match="lineage id"):
        service.decrypt(lineage_id, OBJECT_KEY, b"x")
    assert list(store.list("")) == []


@pytest.mark.parametrize(
    "object_key",
    [
        "keys/snap-0123456789abcdef0",
        "manifests/snap-0123456789abcdef0/root",
        "blocks/snap-0123456789abcdef0/../../keys/x",
        "blocks/snap-0123456789abcdef0/000000007",
        OBJECT_KEY + "/x",
        None,
    ],
)
def test_invalid_object_keys_are_refused(service, object_key):
    service.create_lineage_key(LINEAGE, ARN)
    with pytest.raises(ValidationError, match="block object key"):
        service.encrypt(LINEAGE, object_key, BLOCK)


def test_kms_key_arn_is_required(service):
    with pytest.raises(ValidationError) as caught:
        service.create_lineage_key(LINEAGE, "")
    assert caught.value.reason == "INVALID_CUSTOMER_KEY"


# ---- the JSON wire (Lambda invoke) -------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _request(op: str, data: str | None = None, **fields) -> dict:
    request = {"op": op, "lineage_id": LINEAGE, "object_key": OBJECT_KEY, **fields}
    if data is not None:
        request["data"] = data
    return request


def test_handle_round_trip(service):
    created = answer_invocation(service, {"op": "create_lineage_key", "lineage_id": LINEAGE, "kms_key_arn": ARN})
    assert created == {"data": ""}
    sealed = answer_invocation(service, _request("encrypt", _b64(BLOCK)))
    opened = answer_invocation(service, _request("decrypt", sealed["data"]))
    assert base64.b64decode(opened["data"]) == BLOCK


def test_handle_returns_errors_as_data(service):
    answer_invocation(service, {"op": "create_lineage_key", "lineage_id": LINEAGE, "kms_key_arn": ARN})
    sealed = service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    tampered = _b64(sealed[:-1] + bytes([sealed[-1] ^ 1]))
    answer = answer_invocation(service, _request("decrypt", tampered))
    assert answer["error"]["type"] == "CorruptData"
    with pytest.raises(CorruptData):
        raise_error(answer["error"])


@pytest.mark.parametrize(
    "request_, reason",
    [
        ({"op": "rotate", "lineage_id": LINEAGE}, "INVALID_PARAMETER_VALUE"),
        ({"op": "encrypt", "lineage_id": LINEAGE}, "INVALID_PARAMETER_VALUE"),
        ({"op": "encrypt", "lineage_id": "snap-x", "object_key": OBJECT_KEY}, "INVALID_PARAMETER_VALUE"),
        (_request("encrypt", "%%%"), "INVALID_PARAMETER_VALUE"),
        ({"op": "create_lineage_key", "lineage_id": LINEAGE, "kms_key_arn": ""}, "INVALID_CUSTOMER_KEY"),
    ],
)
def test_handle_refuses_bad_requests(service, request_, reason):
    error = answer_invocation(service, request_)["error"]
    assert error["type"] == "ValidationError"
    assert error["reason"] == reason


def test_handle_names_a_shredded_key(service, store, clock):
    service.create_lineage_key(LINEAGE, ARN)
    sealed = service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
    store.delete_prefix(keys.lineage_key(LINEAGE))
    clock.now += KEY_CACHE_SECONDS
    error = answer_invocation(service, _request("decrypt", _b64(sealed)))["error"]
    assert error["type"] == "DependencyAccessDenied"
    assert error["reason"] == "DEPENDENCY_ACCESS_DENIED"
    assert "has been deleted" in error["message"]


def test_handle_hides_unexpected_failures(kms, clock):
    class BrokenStore(MemoryBlockStore):
        def get(self, key):
            raise OSError("disk on fire at /secret/path")

    service = EncryptionService(kms, BrokenStore(), clock)
    error = answer_invocation(service, {"op": "create_lineage_key", "lineage_id": LINEAGE, "kms_key_arn": ARN})["error"]
    assert error["type"] == "InternalError"
    assert "/secret/path" not in error["message"]
    with pytest.raises(RuntimeError, match="encryption function failed"):
        raise_error(error)


def test_a_trailing_newline_makes_an_id_or_key_invalid(service):
    with pytest.raises(ValidationError):
        service.create_lineage_key(LINEAGE + "\n", ARN)
    service.create_lineage_key(LINEAGE, ARN)
    with pytest.raises(ValidationError):
        service.encrypt(LINEAGE, OBJECT_KEY + "\n", BLOCK)


def test_an_unreadable_stored_key_is_corrupt_data(service, store, clock):
    store.put(keys.lineage_key(LINEAGE), b"{not json")
    with pytest.raises(CorruptData, match="stored data key"):
        service.encrypt(LINEAGE, OBJECT_KEY, BLOCK)
