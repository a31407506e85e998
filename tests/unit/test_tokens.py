import pytest
from hypothesis import given, strategies as st

from chalicelib.domain.tokens import PageCursor, TokenInvalid, TokenMinter

SECRET = b"k" * 32
SNAP = "snap-0123456789abcdef0"


def test_block_token_round_trip_and_binding():
    m = TokenMinter(SECRET)
    token = m.block_token(SNAP, 42, expiry=2000)
    m.check_block_token(token, SNAP, 42, now=1000)
    for snap, index, now in [(SNAP, 43, 1000), ("snap-0123456789abcdef1", 42, 1000), (SNAP, 42, 2001)]:
        with pytest.raises(TokenInvalid):
            m.check_block_token(token, snap, index, now)
    with pytest.raises(TokenInvalid):
        TokenMinter(b"x" * 32).check_block_token(token, SNAP, 42, 1000)


def test_page_token_binding_and_kind():
    m = TokenMinter(SECRET)
    token = m.page_token(PageCursor("ListSnapshotBlocks", SNAP, 100), expiry=5000)
    assert m.open_page_token(token, "ListSnapshotBlocks", SNAP, now=10) == 100
    with pytest.raises(TokenInvalid):
        m.open_page_token(token, "ListChangedBlocks", SNAP, now=10)
    with pytest.raises(TokenInvalid):
        m.check_block_token(token, SNAP, 100, now=10)
    block = m.block_token(SNAP, 1, 5000)
    with pytest.raises(TokenInvalid):
        m.open_page_token(block, "ListSnapshotBlocks", SNAP, now=10)
    with pytest.raises(TokenInvalid):  # bound to its snapshot (or pair)
        m.open_page_token(token, "ListSnapshotBlocks", "snap-0123456789abcdef1", now=10)
    with pytest.raises(TokenInvalid):  # and expired after its expiry
        m.open_page_token(token, "ListSnapshotBlocks", SNAP, now=5001)


@given(st.text(min_size=0, max_size=300))
def test_arbitrary_strings_are_never_accepted(text):
    m = TokenMinter(SECRET)
    with pytest.raises(TokenInvalid):
        m.check_block_token(text, SNAP, 0, now=0)
    with pytest.raises(TokenInvalid):
        m.open_page_token(text, "ListSnapshotBlocks", SNAP, now=0)


def test_tokens_fit_the_model_alphabet_and_length():
    import re

    m = TokenMinter(SECRET)
    token = m.page_token(PageCursor("ListChangedBlocks", f"{SNAP}:{SNAP}", 134217727), 2**31)
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", token) and len(token) <= 256
