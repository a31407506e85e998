"""The API's role cannot use KMS or the wrapped data keys; the encryption function's can, and nothing else.

The encryption role, in turn, cannot read the block-token secret: the key
holder must not be able to mint block tokens.

The policy documents are the deployed ones (``.chalice/policy-*.json``),
attached to two IAM users on a moto server with IAM enforcement switched on
(``/moto-api/reset-auth``); every request below is signed with one user's
access key. What moto enforces and what it does not:

* **KMS** is checked per action, against resource ``*`` (moto does not
  resolve the key), so the encryption policy's KMS statement has
  ``"Resource": "*"``; it is narrowed by a condition on
  ``kms:EncryptionContextKeys`` instead, which moto does not evaluate.
* **S3** is checked per action and per object ARN
  (``arn:aws:s3:::bucket/key``), so the ``keys/`` prefix split is proved here.
* DynamoDB and Lambda are checked per action only, against ``*``, which the
  table- and function-scoped statements never match: they are checked
  offline in ``test_policy_coverage_on_moto.py`` instead.

The server runs in its own process (see :mod:`tests.infra.moto_process`),
because moto's enforcement switch is global to the process that serves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.s3_blocks import S3BlockStore
from chalicelib.encryption.service import EncryptionService
from chalicelib.encryption.kms import KmsKeyService
from tests.infra.moto_process import moto_process

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "blocksnap-blocks"  # the name the policies grant
LINEAGE = "snap-0123456789abcdef0"
CONTEXT = {"aws:ebs:id": LINEAGE}
BLOCK_KEY = f"blocks/{LINEAGE}/000000000-" + "ab" * 32
WRAPPED_KEY = f"keys/{LINEAGE}"
TOKEN_SECRET = "config/token-secret"


def policy(name: str) -> str:
    return (ROOT / ".chalice" / f"policy-{name}.json").read_text()


@pytest.fixture(scope="module")
def world():
    """A KMS key, the bucket, a wrapped data key, and one IAM user per role."""
    with moto_process() as moto:
        admin_kms = moto.client("kms")
        key_arn = admin_kms.create_key(Description="blocksnap isolation test")["KeyMetadata"]["Arn"]
        generated = admin_kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256", EncryptionContext=CONTEXT)
        admin_s3 = moto.client("s3")
        admin_s3.create_bucket(Bucket=BUCKET)
        admin_s3.put_object(Bucket=BUCKET, Key=WRAPPED_KEY, Body=b"wrapped data key")
        admin_s3.put_object(Bucket=BUCKET, Key=TOKEN_SECRET, Body=b"token secret")
        iam = moto.client("iam")
        clients = {}
        for user in ("api", "encryption"):
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName=f"blocksnap-{user}", PolicyDocument=policy(user))
            key = iam.create_access_key(UserName=user)["AccessKey"]
            clients[user] = lambda service, k=key: moto.client(service, k["AccessKeyId"], k["SecretAccessKey"])
        yield {
            "moto": moto,
            "key_arn": key_arn,
            "plaintext": generated["Plaintext"],
            "wrapped": generated["CiphertextBlob"],
            "clients": clients,
        }


@pytest.fixture
def enforced(world):
    """IAM enforcement for one test; everything before it (the setup) ran unchecked."""
    with world["moto"].iam_enforced():
        yield world


def error_code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_enforcement_is_on(enforced):
    """The setup's fake credentials are no IAM user's: refused once auth is on.

    moto answers this KMS (JSON protocol) request with a Query-style XML
    error, which botocore cannot parse, so only the status and text are checked.
    """
    with pytest.raises(ClientError) as exc:
        enforced["moto"].client("kms").list_keys()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "security token included in the request is invalid" in str(exc.value)


def assert_kms_denied(exc: pytest.ExceptionInfo, action: str) -> None:
    """moto's KMS denial: HTTP 403 with an XML ``AccessDenied`` body.

    AWS answers ``AccessDeniedException`` in JSON, which ``KmsKeyService``
    maps to DependencyAccessDenied (proved with botocore's Stubber in
    tests/unit/test_kms_error_mapping.py); botocore cannot parse moto's XML
    for a JSON-protocol service, so here the status and the text are checked.
    """
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert f"user/api is not authorized to perform: {action}" in str(exc.value)


def test_api_role_is_denied_generate_data_key(enforced):
    kms = enforced["clients"]["api"]("kms")
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=enforced["key_arn"], KeySpec="AES_256", EncryptionContext=CONTEXT)
    assert_kms_denied(exc, "kms:GenerateDataKey")


def test_api_role_is_denied_decrypt(enforced):
    kms = enforced["clients"]["api"]("kms")
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=enforced["wrapped"], EncryptionContext=CONTEXT)
    assert_kms_denied(exc, "kms:Decrypt")


def test_encryption_role_may_generate_and_decrypt(enforced):
    keys = KmsKeyService(enforced["clients"]["encryption"]("kms"))
    plaintext, wrapped = keys.generate_data_key(enforced["key_arn"], CONTEXT)
    assert keys.decrypt(wrapped, CONTEXT) == plaintext
    assert keys.decrypt(enforced["wrapped"], CONTEXT) == enforced["plaintext"]


def test_api_role_writes_blocks_but_cannot_touch_wrapped_keys(enforced):
    s3 = enforced["clients"]["api"]("s3")
    s3.put_object(Bucket=BUCKET, Key=BLOCK_KEY, Body=b"block")
    assert s3.get_object(Bucket=BUCKET, Key=BLOCK_KEY)["Body"].read() == b"block"
    for attempt in (
        lambda: s3.get_object(Bucket=BUCKET, Key=WRAPPED_KEY),
        lambda: s3.put_object(Bucket=BUCKET, Key=f"keys/{LINEAGE[:-1]}1", Body=b"x"),
        lambda: s3.delete_object(Bucket=BUCKET, Key=WRAPPED_KEY),
    ):
        with pytest.raises(ClientError) as exc:
            attempt()
        assert error_code(exc) == "AccessDenied"


def test_api_role_cannot_read_keys_through_the_block_store(enforced):
    """S3BlockStore turns only NoSuchKey into ObjectNotFound: a denial stays an error."""
    store = S3BlockStore(enforced["clients"]["api"]("s3"), BUCKET)
    with pytest.raises(ClientError) as exc:
        store.get(WRAPPED_KEY)
    assert error_code(exc) == "AccessDenied"


def test_encryption_role_reads_and_writes_wrapped_keys(enforced):
    s3 = enforced["clients"]["encryption"]("s3")
    assert s3.get_object(Bucket=BUCKET, Key=WRAPPED_KEY)["Body"].read() == b"wrapped data key"
    s3.put_object(Bucket=BUCKET, Key=f"keys/{LINEAGE[:-1]}2", Body=b"another")
    s3.delete_object(Bucket=BUCKET, Key=f"keys/{LINEAGE[:-1]}2")


def test_encryption_role_is_denied_the_token_secret(enforced):
    """The object is there (the API role reads it); the encryption role may neither read nor replace it."""
    api = enforced["clients"]["api"]("s3")
    assert api.get_object(Bucket=BUCKET, Key=TOKEN_SECRET)["Body"].read() == b"token secret"
    s3 = enforced["clients"]["encryption"]("s3")
    for attempt in (
        lambda: s3.get_object(Bucket=BUCKET, Key=TOKEN_SECRET),
        lambda: s3.put_object(Bucket=BUCKET, Key=TOKEN_SECRET, Body=b"chosen by the key holder"),
    ):
        with pytest.raises(ClientError) as exc:
            attempt()
        assert error_code(exc) == "AccessDenied"


def test_encryption_service_runs_under_the_encryption_role_only(enforced):
    """The encryption function's own code path: a lineage key, then a block sealed and opened."""
    lineage = "snap-00000000000000001"
    block_key = f"blocks/{lineage}/000000007-" + "cd" * 32

    def service(role: str) -> EncryptionService:
        clients = enforced["clients"][role]
        return EncryptionService(KmsKeyService(clients("kms")), S3BlockStore(clients("s3"), BUCKET))

    # Its first call, the GetObject of keys/<lineage> (is there a key yet?), is refused.
    with pytest.raises(ClientError) as exc:
        service("api").create_lineage_key(lineage, enforced["key_arn"])
    assert error_code(exc) == "AccessDenied"
    assert exc.value.operation_name == "GetObject"

    writer = service("encryption")
    writer.create_lineage_key(lineage, enforced["key_arn"])
    sealed = writer.encrypt(lineage, block_key, b"secret block")
    # A fresh service has no cached key: it must read keys/ and call KMS Decrypt.
    assert service("encryption").decrypt(lineage, block_key, sealed) == b"secret block"
