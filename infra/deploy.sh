#!/usr/bin/env bash
# Deploy blocksnap to AWS or LocalStack: the resources stack, then the
# application stack that `chalice package` generates. docs/deploy.md explains
# each step; this script is that page, runnable.
#
#   infra/deploy.sh                       deploy both stacks
#   infra/deploy.sh --package-only DIR    only write DIR/sam.json + DIR/deployment.zip
#
# Environment:
#   BLOCKSNAP_AWS_TARGET=localstack   use awslocal (LocalStack) instead of aws
#   BLOCKSNAP_ARTIFACT_BUCKET         S3 bucket for the Lambda code (required to deploy;
#                                     created if missing)
#   BLOCKSNAP_RESOURCES_STACK         default blocksnap-resources
#   BLOCKSNAP_APP_STACK               default blocksnap-app
#   BLOCKSNAP_OUT                     default out (packaging directory)
#   AWS_DEFAULT_REGION / AWS_REGION   default us-east-1
#   PYTHON                            interpreter that runs chalice (default python3)
set -euo pipefail

cd "$(dirname "$0")/.."

STAGE=prod
RESOURCES_STACK=${BLOCKSNAP_RESOURCES_STACK:-blocksnap-resources}
APP_STACK=${BLOCKSNAP_APP_STACK:-blocksnap-app}
OUT=${BLOCKSNAP_OUT:-out}
PYTHON=${PYTHON:-python3}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}

PACKAGE_ONLY=0
if [ "${1:-}" = "--package-only" ]; then
    PACKAGE_ONLY=1
    OUT=${2:?usage: infra/deploy.sh --package-only DIR}
fi

if [ "${BLOCKSNAP_AWS_TARGET:-}" = "localstack" ]; then
    AWS=awslocal
else
    AWS=aws
fi

# Chalice sets each function's Lambda runtime to the Python that runs it, and
# Lambda no longer creates python3.11 functions (deprecated 2026-06-30,
# creation blocked 2026-07-31): package with 3.12 or later.
"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 12):
    sys.exit(f"chalice would package for python{sys.version_info[0]}.{sys.version_info[1]}, "
             "which Lambda no longer accepts for new functions; set PYTHON to a 3.12+ "
             "interpreter that has blocksnap's dependencies and chalice installed")
PY

package() {
    rm -rf "$OUT"
    # merge.json puts the real stream ARN (a parameter) in place of the
    # placeholder app.py gives both stream triggers, names the encryption
    # function as policy-api.json and BLOCKSNAP_ENCRYPTION_FUNCTION expect,
    # and filters the copier's trigger to CopyRequested inserts.
    "$PYTHON" -c 'import sys; from chalice.cli import main; sys.argv[0] = "chalice"; sys.exit(main())' \
        package --stage "$STAGE" --merge-template infra/merge.json "$OUT"
}

if [ "$PACKAGE_ONLY" = 1 ]; then
    package
    exit 0
fi

ARTIFACT_BUCKET=${BLOCKSNAP_ARTIFACT_BUCKET:?set BLOCKSNAP_ARTIFACT_BUCKET to a bucket for the Lambda code}

# 1. State: tables (events with its NEW_IMAGE stream, snapshots), the bucket, the default key.
$AWS cloudformation deploy \
    --stack-name "$RESOURCES_STACK" \
    --template-file infra/resources.yaml \
    --parameter-overrides "AppStackName=$APP_STACK" \
    --no-fail-on-empty-changeset

output() {
    $AWS cloudformation describe-stacks --stack-name "$RESOURCES_STACK" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
STREAM_ARN=$(output EventsStreamArn)
DEFAULT_KEY_ARN=$(output DefaultKmsKeyArn)

# 2. The application template: five functions, one role each, from .chalice/.
package

# 3. Upload the code and deploy the application stack.
$AWS s3api head-bucket --bucket "$ARTIFACT_BUCKET" 2>/dev/null || $AWS s3 mb "s3://$ARTIFACT_BUCKET"
$AWS cloudformation package \
    --template-file "$OUT/sam.json" \
    --s3-bucket "$ARTIFACT_BUCKET" \
    --output-template-file "$OUT/packaged.yaml"
$AWS cloudformation deploy \
    --stack-name "$APP_STACK" \
    --template-file "$OUT/packaged.yaml" \
    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
    --parameter-overrides "EventsStreamArn=$STREAM_ARN" "DefaultKmsKeyArn=$DEFAULT_KEY_ARN" \
    --no-fail-on-empty-changeset

$AWS cloudformation describe-stacks --stack-name "$APP_STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='EndpointURL'].OutputValue" --output text
