"""The cipher and the embedded key service: authenticated, bound to their context, key kept private."""

from __future__ import annotations

import os
import stat

import pytest

from chalicelib.domain.errors import CorruptData
from chalicelib.encryption.cipher import OVERHEAD, AeadCipher
from chalicelib.encryption.local_kms import MASTER_KEY_FILE, LocalKeyService

BLOCK = os.urandom(512 * 1024)
KEY_A = b"blocks/snap-0123456789abcdef0/000000007-" + b"ab" * 32
KEY_B = b"blocks/snap-0123456789abcdef0/000000008-" + b"ab" * 32
CONTEXT = {"aws:ebs:id": "snap-0123456789abcdef0"}
ARN = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555"


@pytest.fixture
def cipher() -> AeadCipher:
    return AeadCipher(os.urandom(32))


def test_seal_then_open_gives_the_plaintext(cipher):
    sealed = cipher.seal(BLOCK, KEY_A)
    assert len(sealed) == len(BLOCK) + OVERHEAD
    assert cipher.open(sealed, KEY_A, "block") == BLOCK


def test_the_same_plaintext_seals_differently_each_time(cipher):
    assert cipher.seal(BLOCK, KEY_A) != cipher.seal(BLOCK, KEY_A)


def test_sealed_bytes_hold_no_run_of_the_plaintext(cipher):
    sealed = cipher.seal(BLOCK, KEY_A)
    assert BLOCK[1000:1032] not in sealed


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_a_tampered_byte_is_corrupt_data(cipher, position):
    sealed = bytearray(cipher.seal(BLOCK, KEY_A))
    sealed[position] ^= 0x01
    with pytest.raises(CorruptData):
        cipher.open(bytes(sealed), KEY_A, "block")


def test_truncated_bytes_are_corrupt_data(cipher):
    with pytest.raises(CorruptData, match="not a sealed value"):
        cipher.open(b"\x01short", KEY_A, "block")


def test_bytes_moved_to_another_object_key_fail(cipher):
    sealed = cipher.seal(BLOCK, KEY_A)
    with pytest.raises(CorruptData, match="failed authenticated decryption"):
        cipher.open(sealed, KEY_B, "block")


def test_another_key_cannot_open(cipher):
    with pytest.raises(CorruptData):
        AeadCipher(os.urandom(32)).open(cipher.seal(BLOCK, KEY_A), KEY_A, "block")


def test_a_key_must_have_32_bytes():
    with pytest.raises(ValueError):
        AeadCipher(b"short")


# ---- LocalKeyService --------------------------------------------------------


def test_data_key_round_trip(tmp_path):
    kms = LocalKeyService(tmp_path / "kms")
    plaintext, wrapped = kms.generate_data_key(ARN, CONTEXT)
    assert len(plaintext) == 32
    assert kms.decrypt(wrapped, CONTEXT) == plaintext


def test_the_wrapped_key_does_not_contain_the_plaintext(tmp_path):
    kms = LocalKeyService(tmp_path / "kms")
    for _ in range(20):
        plaintext, wrapped = kms.generate_data_key(ARN, CONTEXT)
        assert plaintext not in wrapped
        assert plaintext[:8] not in wrapped


def test_wrong_context_fails_like_kms(tmp_path):
    kms = LocalKeyService(tmp_path / "kms")
    _, wrapped = kms.generate_data_key(ARN, CONTEXT)
    with pytest.raises(CorruptData, match="InvalidCiphertextException"):
        kms.decrypt(wrapped, {"aws:ebs:id": "snap-0123456789abcdef1"})
    with pytest.raises(CorruptData, match="InvalidCiphertextException"):
        kms.decrypt(wrapped, {})


def test_a_wrapped_key_cannot_be_relabelled_to_another_key_id(tmp_path):
    kms = LocalKeyService(tmp_path / "kms")
    _, wrapped = kms.generate_data_key("alias/a", CONTEXT)  # key ids of equal length
    relabelled = wrapped.replace(b"alias/a", b"alias/b", 1)
    with pytest.raises(CorruptData):
        kms.decrypt(relabelled, CONTEXT)


def test_a_tampered_or_foreign_blob_fails(tmp_path):
    kms = LocalKeyService(tmp_path / "kms")
    _, wrapped = kms.generate_data_key(ARN, CONTEXT)
    tampered = bytearray(wrapped)
    tampered[-1] ^= 0x80
    with pytest.raises(CorruptData):
        kms.decrypt(bytes(tampered), CONTEXT)
    with pytest.raises(CorruptData):
        kms.decrypt(b"not a blob", CONTEXT)


def test_any_key_id_string_is_accepted(tmp_path):
    kms = LocalKeyService(tmp_path / "kms")
    for key_id in (ARN, "arn:aws:kms:us-east-1:000000000000:alias/aws/ebs", "alias/mine"):
        plaintext, wrapped = kms.generate_data_key(key_id, CONTEXT)
        assert kms.decrypt(wrapped, CONTEXT) == plaintext


def test_master_key_file_is_private_and_survives_restarts(tmp_path):
    directory = tmp_path / "kms"
    kms = LocalKeyService(directory)
    _, wrapped = kms.generate_data_key(ARN, CONTEXT)
    master = directory / MASTER_KEY_FILE
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(master.stat().st_mode) == 0o600
    assert master.stat().st_size == 32
    assert sorted(p.name for p in directory.iterdir()) == [MASTER_KEY_FILE]
    again = LocalKeyService(directory)
    assert again.decrypt(wrapped, CONTEXT) == kms.decrypt(wrapped, CONTEXT)


def test_an_existing_lax_directory_is_tightened(tmp_path):
    directory = tmp_path / "kms"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    LocalKeyService(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_master_key_readable_by_others_is_refused(tmp_path):
    directory = tmp_path / "kms"
    LocalKeyService(directory)
    os.chmod(directory / MASTER_KEY_FILE, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        LocalKeyService(directory)


def test_another_master_key_cannot_unwrap(tmp_path):
    _, wrapped = LocalKeyService(tmp_path / "one").generate_data_key(ARN, CONTEXT)
    with pytest.raises(CorruptData):
        LocalKeyService(tmp_path / "two").decrypt(wrapped, CONTEXT)
