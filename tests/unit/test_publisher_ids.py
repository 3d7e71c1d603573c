"""Publisher ids name the stream epoch they write for, so a replaced workflow can refuse them."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from wfwatch.stream.publisher import claimed_epoch, publisher_id_for


def test_an_id_made_for_an_epoch_names_it_and_is_fresh_each_time() -> None:
    epoch = str(uuid.uuid4())
    first, second = publisher_id_for(epoch), publisher_id_for(epoch)
    assert first != second
    assert claimed_epoch(first) == claimed_epoch(second) == epoch


def test_ids_without_an_epoch_claim_none() -> None:
    assert claimed_epoch(publisher_id_for(None)) is None
    assert claimed_epoch("") is None  # the SDK's anonymous publisher
    assert claimed_epoch("3f9c0a1b2c3d4e5f") is None  # the SDK's WorkflowStreamClient
    assert claimed_epoch("e:") is None
    assert claimed_epoch("e::abc") is None
    assert claimed_epoch("e:no-random-part") is None


@given(st.text(min_size=1).filter(lambda t: t.strip() == t))
def test_any_epoch_round_trips(epoch: str) -> None:
    assert claimed_epoch(publisher_id_for(epoch)) == epoch
