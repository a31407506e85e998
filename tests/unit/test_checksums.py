"""The LINEAR aggregate against the test vectors AWS accepted (spec §b.2)."""

from chalicelib.domain.checksums import linear_aggregate, sha256_b64

BLOCK = 524288


def payload(tag: str) -> bytes:
    return (f"stackd-ebs-synthetic-{tag}\n".encode() * (BLOCK // 8))[:BLOCK]


A = "Qib0wLZSCPxxAsnoZ1mqGTwYYUfxBvjcHbuEUOOwNdw="
B = "7MZ7lYcAJrKN1JmUX5CDaVV97bthlt/bgN4AmbQDHTA="
C = "4b2+EkHNyDn49FNHyinzwIPoVBW30eVGlR/lZ/NPTvE="
ZERO = "B4VNL+8pega6gWheZgwzLeNtXRjVRpJ9MNqtbX/aFUE="


def test_block_digests_match_the_vectors():
    assert sha256_b64(payload("a")) == A
    assert sha256_b64(payload("b")) == B
    assert sha256_b64(payload("c")) == C
    assert sha256_b64(bytes(BLOCK)) == ZERO


def test_aggregates_accepted_by_aws():
    assert linear_aggregate([B, A, ZERO, C]) == "Pq34jf4xh07iqiQpo/morRl/xL06mqy1ERimH+Hypi8="
    assert linear_aggregate([ZERO, A, B]) == "hf4A3LvWy4effbPmcB9iS2uEagRPJ7DdLQQXLJYnpsg="
    assert linear_aggregate([A]) == "hm74cqkUPpcI9ua01PNSVN2PLTzQAAMPsYCbeHfLIX4="
    assert linear_aggregate([]) == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_text_variant_rejected_by_aws_differs():
    assert linear_aggregate([A, B]) != "xKsCRmgUxD/XwebcOgEG4QQ7TRElxCfHnSnsGQDz4pU="
