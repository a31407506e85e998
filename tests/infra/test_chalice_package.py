"""``chalice package --stage prod`` with infra/merge.json: the template the deploy uses.

Packaging needs no AWS access (only a region name), so the real command runs
here and the generated SAM template is checked: five functions, each with its
own role carrying its own policy file; no ``kms:`` action outside the
encryption roles; the stream triggers wired to the resources stack's stream;
names that agree across config.json, the policies, resources.yaml and
``aws_setup``. cfn-lint (when installed) lints both templates.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from chalicelib.cli import aws_setup
from chalicelib.wiring import AwsNames

ROOT = Path(__file__).resolve().parents[2]
CHALICE_DIR = ROOT / ".chalice"
PLACEHOLDER_ACCOUNT = "000000000000"  # app.py's placeholder stream ARN

# Function resource (chalice's name in the template) -> handler, policy file.
FUNCTIONS = {
    "APIHandler": ("app.app", "policy-api.json"),
    "Projector": ("app.project", "policy-projector.json"),
    "Timekeeper": ("app.sweep_timeouts", "policy-timekeeper.json"),
    "Encryption": ("app.encryption", "policy-encryption.json"),
    "EncryptionCopier": ("app.copy_encrypted", "policy-encryption.json"),
}
ENCRYPTION_FUNCTIONS = {"Encryption", "EncryptionCopier"}
STREAM_TRIGGERS = {"Projector": "ProjectorDynamodbEventSource", "EncryptionCopier": "EncryptionCopierDynamodbEventSource"}
CHALICE = "import sys; from chalice.cli import main; sys.argv[0] = 'chalice'; sys.exit(main())"


def chalice_package(out: Path, *extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BLOCKSNAP_"))}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    result = subprocess.run(
        [sys.executable, "-c", CHALICE, "package", "--stage", "prod", *extra, str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((out / "sam.json").read_text())


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> dict:
    return chalice_package(tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def merged_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("merged")
    chalice_package(out, "--merge-template", str(ROOT / "infra" / "merge.json"))
    return out


@pytest.fixture(scope="module")
def merged(merged_dir) -> dict:
    return json.loads((merged_dir / "sam.json").read_text())


def policy_file(name: str) -> dict:
    return json.loads((CHALICE_DIR / name).read_text())


def role_policy(template: dict, function: str) -> dict:
    role_ref = template["Resources"][function]["Properties"]["Role"]
    role = template["Resources"][role_ref["Fn::GetAtt"][0]]
    [policy] = role["Properties"]["Policies"]
    return policy["PolicyDocument"]


def actions(document: dict, effect: str = "Allow") -> set[str]:
    found = set()
    for statement in document["Statement"]:
        if statement["Effect"] != effect:
            continue
        value = statement.get("Action", [])
        found.update([value] if isinstance(value, str) else value)
    return found


def resources(document: dict) -> set[str]:
    found = set()
    for statement in document["Statement"]:
        value = statement.get("Resource", [])
        found.update([value] if isinstance(value, str) else value)
    return found


def resources_template() -> dict:
    return yaml.safe_load((ROOT / "infra" / "resources.yaml").read_text())


# ---- the five functions and their roles ---------------------------------


def test_five_functions_each_with_its_own_role_and_policy_file(plain):
    functions = {k: v for k, v in plain["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == set(FUNCTIONS)
    roles = set()
    for name, (handler, policy_name) in FUNCTIONS.items():
        properties = functions[name]["Properties"]
        assert properties["Handler"] == handler
        roles.add(properties["Role"]["Fn::GetAtt"][0])
        assert role_policy(plain, name) == policy_file(policy_name), name
    assert len(roles) == len(FUNCTIONS), "a role is shared between functions"


def test_api_role_has_no_kms_action_and_no_wrapped_keys(plain):
    document = role_policy(plain, "APIHandler")
    for action in actions(document):
        assert not action.lower().startswith("kms:"), action
        assert action != "*" and not action.endswith(":*"), f"wildcard action {action}"
    for resource in resources(document):
        assert "/keys/" not in resource and not resource.endswith("blocksnap-blocks/*"), resource


def test_encryption_roles_have_the_kms_actions_they_use(plain):
    for name in ENCRYPTION_FUNCTIONS:
        document = role_policy(plain, name)
        assert {"kms:GenerateDataKey", "kms:Decrypt"} <= actions(document)
        assert {a for a in actions(document) if a.startswith("kms:")} == {"kms:GenerateDataKey", "kms:Decrypt"}
        assert "arn:aws:s3:::blocksnap-blocks/keys/*" in resources(document)


def test_only_the_encryption_roles_have_kms_or_keys(plain):
    for name in set(FUNCTIONS) - ENCRYPTION_FUNCTIONS:
        document = role_policy(plain, name)
        assert not any(a.lower().startswith("kms:") or a == "*" for a in actions(document)), name
        assert not any("/keys/" in r for r in resources(document)), name


def test_kms_statement_is_narrowed_to_the_ebs_encryption_context():
    [statement] = [s for s in policy_file("policy-encryption.json")["Statement"] if "kms:Decrypt" in s["Action"]]
    condition = statement["Condition"]
    assert condition["ForAllValues:StringEquals"]["kms:EncryptionContextKeys"] == ["aws:ebs:id"]
    assert condition["Null"]["kms:EncryptionContextKeys"] == "false"


def test_every_policy_file_is_used_and_well_formed():
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    used = {f["iam_policy_file"] for f in config["lambda_functions"].values()} | {config["iam_policy_file"]}
    on_disk = {p.name for p in CHALICE_DIR.glob("policy-*.json")}
    assert used == on_disk
    for name in on_disk:
        document = policy_file(name)
        assert document["Version"] == "2012-10-17"
        sids = [s["Sid"] for s in document["Statement"]]
        assert len(sids) == len(set(sids)), name
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            for resource in [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]:
                # Account and region are wildcards, so one file serves any account (and moto's).
                assert resource == "*" or re.fullmatch(r"arn:aws:(s3:::|[a-z]+:\*:\*:).+", resource), resource


# ---- environment ----------------------------------------------------------


def test_prod_functions_run_the_aws_backend_on_the_default_names(plain):
    names = AwsNames()
    for name in FUNCTIONS:
        variables = plain["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert variables["BLOCKSNAP_BACKEND"] == "aws"
        assert variables["BLOCKSNAP_EVENTS_TABLE"] == names.events_table
        assert variables["BLOCKSNAP_SNAPSHOTS_TABLE"] == names.snapshots_table
        assert variables["BLOCKSNAP_BUCKET"] == names.bucket
        assert "BLOCKSNAP_RUN_PROJECTOR" not in variables  # Lambda triggers feed the projector


def test_dev_stage_stays_embedded_for_chalice_local():
    dev = json.loads((CHALICE_DIR / "config.json").read_text())["stages"]["dev"]
    assert dev["environment_variables"] == {"BLOCKSNAP_BACKEND": "embedded", "BLOCKSNAP_RUN_PROJECTOR": "1"}


def test_api_knows_the_encryption_function_it_may_invoke(merged):
    api_env = merged["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    function_name = merged["Resources"]["Encryption"]["Properties"]["FunctionName"]
    assert api_env["BLOCKSNAP_ENCRYPTION_FUNCTION"] == function_name == "blocksnap-prod-encryption"
    [invoke] = [s for s in policy_file("policy-api.json")["Statement"] if "lambda:InvokeFunction" in s["Action"]]
    assert invoke["Resource"] == f"arn:aws:lambda:*:*:function:{function_name}"
    for name in set(FUNCTIONS) - {"APIHandler"}:
        assert "BLOCKSNAP_ENCRYPTION_FUNCTION" not in merged["Resources"][name]["Properties"]["Environment"]["Variables"]


def test_every_function_reports_the_account_it_runs_in(merged):
    """OwnerId and the default KMS key ARN name the deploying account, not the local placeholder."""
    assert merged["Globals"]["Function"]["Environment"]["Variables"]["BLOCKSNAP_OWNER_ID"] == {"Ref": "AWS::AccountId"}


def test_every_function_gets_the_stacks_default_key_and_never_asks_kms_for_it(merged):
    """Only the encryption roles may call KMS: the others could not resolve the alias themselves."""
    variables = merged["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["BLOCKSNAP_DEFAULT_KMS_KEY_ARN"] == {"Ref": "DefaultKmsKeyArn"}
    pattern = merged["Parameters"]["DefaultKmsKeyArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert resources_template()["Outputs"]["DefaultKmsKeyArn"]["Value"] == {"Fn::GetAtt": ["DefaultKey", "Arn"]}


def test_rest_api_authorizes_by_iam_and_takes_every_body_as_binary(merged):
    """botocore sends blocks with no Content-Type (API Gateway then assumes JSON and would pass them as text)."""
    properties = merged["Resources"]["RestAPI"]["Properties"]
    assert properties["Auth"] == {"DefaultAuthorizer": "AWS_IAM"}
    assert properties["BinaryMediaTypes"] == ["*~1*"]


# ---- merge.json -------------------------------------------------------------


def test_merge_only_touches_resources_chalice_generated(plain, merged):
    """A renamed chalice resource would leave merge.json creating a typeless one."""
    merge = json.loads((ROOT / "infra" / "merge.json").read_text())
    assert set(merge["Resources"]) <= set(plain["Resources"])
    for function, event in STREAM_TRIGGERS.items():
        assert event in plain["Resources"][function]["Properties"]["Events"]
    assert all("Type" in resource for resource in merged["Resources"].values())


def test_stream_triggers_take_the_stream_arn_parameter(plain, merged):
    for function, event in STREAM_TRIGGERS.items():
        placeholder = plain["Resources"][function]["Properties"]["Events"][event]["Properties"]["Stream"]
        assert PLACEHOLDER_ACCOUNT in placeholder
        properties = merged["Resources"][function]["Properties"]["Events"][event]["Properties"]
        assert properties["Stream"] == {"Ref": "EventsStreamArn"}
    assert merged["Parameters"]["EventsStreamArn"]["Type"] == "String"
    assert PLACEHOLDER_ACCOUNT not in json.dumps(merged)


def test_the_copier_is_triggered_by_copy_requests_only(merged):
    event = merged["Resources"]["EncryptionCopier"]["Properties"]["Events"]["EncryptionCopierDynamodbEventSource"]
    [rule] = event["Properties"]["FilterCriteria"]["Filters"]
    pattern = json.loads(rule["Pattern"])
    assert pattern == {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["CopyRequested"]}}}}
    from chalicelib.domain.events import CopyRequested

    assert CopyRequested.type_name == "CopyRequested"


def test_stream_parameter_pattern_accepts_the_resources_stack_output():
    pattern = json.loads((ROOT / "infra" / "merge.json").read_text())["Parameters"]["EventsStreamArn"]["AllowedPattern"]
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/blocksnap-events/stream/2026-11-25T16:00:00.000"
    assert re.fullmatch(pattern, arn)
    assert not re.fullmatch(pattern, arn.replace("blocksnap-events", "other"))


# ---- resources.yaml ----------------------------------------------------------


def _cfn_table(spec: dict) -> dict:
    """An aws_setup table spec as the CloudFormation properties it corresponds to."""
    properties = {k: v for k, v in spec.items() if k != "StreamSpecification"}
    if "StreamSpecification" in spec:
        properties["StreamSpecification"] = {"StreamViewType": spec["StreamSpecification"]["StreamViewType"]}
    return properties


def test_tables_match_aws_setup():
    template = resources_template()["Resources"]
    names = AwsNames()
    for logical, spec in (
        ("EventsTable", aws_setup.events_table_spec(names.events_table)),
        ("SnapshotsTable", aws_setup.snapshots_table_spec(names.snapshots_table)),
    ):
        properties = dict(template[logical]["Properties"])
        properties.pop("PointInTimeRecoverySpecification", None)
        assert properties == _cfn_table(spec), logical


def test_bucket_is_private_unversioned_and_encrypted():
    bucket = resources_template()["Resources"]["BlocksBucket"]["Properties"]
    assert bucket["BucketName"] == AwsNames().bucket
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # Crypto-shredding deletes keys/<lineage>; a versioned bucket would keep it.
    assert "VersioningConfiguration" not in bucket


def test_outputs_name_what_the_application_stack_needs():
    outputs = resources_template()["Outputs"]
    assert outputs["EventsStreamArn"]["Value"] == {"Fn::GetAtt": ["EventsTable", "StreamArn"]}
    assert {"EventsTableName", "SnapshotsTableName", "BucketName"} <= set(outputs)


def test_policies_name_the_resources_the_stack_creates():
    names = AwsNames()
    allowed = {
        f"arn:aws:dynamodb:*:*:table/{names.events_table}",
        f"arn:aws:dynamodb:*:*:table/{names.events_table}/stream/*",
        f"arn:aws:dynamodb:*:*:table/{names.snapshots_table}",
        f"arn:aws:dynamodb:*:*:table/{names.snapshots_table}/index/{aws_setup.STATUS_INDEX}",
        f"arn:aws:s3:::{names.bucket}",
        "arn:aws:logs:*:*:*",
        "arn:aws:lambda:*:*:function:blocksnap-prod-encryption",
        "*",
    }
    for path in CHALICE_DIR.glob("policy-*.json"):
        for resource in resources(json.loads(path.read_text())):
            assert resource in allowed or resource.startswith(f"arn:aws:s3:::{names.bucket}/"), (path.name, resource)


def test_default_key_is_usable_by_the_encryption_roles_only():
    resources = resources_template()["Resources"]
    assert resources["DefaultKeyAlias"]["Properties"] == {"AliasName": AwsNames().key_alias,
                                                          "TargetKeyId": {"Ref": "DefaultKey"}}
    key = resources["DefaultKey"]
    assert key["DeletionPolicy"] == "Retain"  # every snapshot encrypted under it depends on it
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    using = [sid for sid, s in statements.items() if {"kms:Decrypt", "kms:GenerateDataKey"} & set(s["Action"])]
    assert using == ["EncryptionRolesUse"]
    patterns = [p["Fn::Sub"] for p in statements["EncryptionRolesUse"]["Condition"]["ArnLike"]["aws:PrincipalArn"]]
    assert patterns == [f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/${{AppStackName}}-{role}Role-*"
                        for role in sorted(ENCRYPTION_FUNCTIONS)]
    assert not any(a in ("kms:*", "kms:Encrypt", "kms:ReEncrypt*") for a in statements["AccountAdministers"]["Action"])


# ---- the code package -----------------------------------------------------------


def test_deployment_package_holds_the_app_and_nothing_of_the_tests(merged_dir):
    names = set(zipfile.ZipFile(merged_dir / "deployment.zip").namelist())
    assert {"app.py", "chalicelib/wiring.py", "chalicelib/encryption/lambda_entry.py"} <= names
    assert not any(n.startswith(("tests/", "benchmarks/", "infra/", "docs/")) for n in names)


def test_deployment_package_bundles_the_runtime_dependencies(merged_dir):
    """chalice package bundles only app.py and chalicelib/ unless requirements.txt names the rest."""
    names = set(zipfile.ZipFile(merged_dir / "deployment.zip").namelist())
    assert {"pynamodb/__init__.py", "cryptography/__init__.py"} <= names


# ---- lint ----------------------------------------------------------------------


def _lint(path: Path, ignore: list[str]) -> list[str]:
    cfnlint_api = pytest.importorskip("cfnlint.api")
    matches = cfnlint_api.lint_file(path, config=cfnlint_api.ManualArgs(ignore_checks=ignore) if ignore else None)
    return [f"{m.rule.id} {m.message} ({m.filename}:{m.linenumber})" for m in matches]


def test_cfn_lint_resources_template():
    assert _lint(ROOT / "infra" / "resources.yaml", []) == []


def test_cfn_lint_packaged_template(merged_dir):
    # Chalice sets the Lambda runtime to the Python that runs it; Lambda no
    # longer creates python3.11 functions (E2533), which is why deploy.sh
    # packages with 3.12 or later. Tests may run on 3.11: that one rule is
    # waived there, and only there.
    ignore = ["E2533"] if sys.version_info < (3, 12) else []
    assert _lint(merged_dir / "sam.json", ignore) == []


# ---- deploy.sh -------------------------------------------------------------------


def test_deploy_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "infra" / "deploy.sh")], check=True)


def _deploy_package_only(python: str, out: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BLOCKSNAP_"))}
    env["PYTHON"] = python
    return subprocess.run(
        ["bash", str(ROOT / "infra" / "deploy.sh"), "--package-only", str(out)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="deploy.sh refuses only interpreters older than 3.12, and this one is not")
def test_deploy_script_refuses_a_runtime_lambda_no_longer_accepts(tmp_path):
    result = _deploy_package_only(sys.executable, tmp_path / "out", tmp_path)
    assert result.returncode != 0
    assert "Lambda no longer accepts" in result.stderr
    assert not (tmp_path / "out").exists()


def _supported_python() -> str | None:
    """An interpreter deploy.sh accepts (3.12 or later): this one, or another on the machine (pyenv's)."""
    if sys.version_info >= (3, 12):
        return sys.executable
    candidates = [shutil.which(f"python3.{minor}") for minor in (14, 13, 12)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                               capture_output=True, text=True)
        if probe.stdout.strip() == "True":  # pyenv's shims exist for versions they then refuse to run
            return candidate
    return None


def test_deploy_script_packages_with_a_supported_runtime(tmp_path):
    """What deploy.sh asks for: a 3.12+ interpreter with blocksnap's dependencies and chalice installed."""
    python = _supported_python()
    if python is None:
        pytest.skip("no Python 3.12 or later on this machine to package with")
    if python != sys.executable:
        venv = tmp_path / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
        python = str(venv / "bin" / "python")
        subprocess.run([python, "-m", "pip", "install", "--quiet", "-e", str(ROOT)], check=True, timeout=600)
    result = _deploy_package_only(python, tmp_path / "out", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    template = json.loads((tmp_path / "out" / "sam.json").read_text())
    assert template["Parameters"]["EventsStreamArn"]["Type"] == "String"
    runtimes = {name: template["Resources"][name]["Properties"]["Runtime"] for name in FUNCTIONS}
    version = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2], sep='.')"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert set(runtimes.values()) == {f"python{version}"}, runtimes
    assert _lint(tmp_path / "out" / "sam.json", []) == []  # no waiver: the runtime is one Lambda accepts