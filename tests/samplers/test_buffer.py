import pytest
import torch

from neurot.samplers import ReplayBuffer


def test_push_wraps_and_keeps_newest():
    buffer = ReplayBuffer(5)
    buffer.push(torch.arange(3.0)[:, None], torch.arange(3.0)[:, None] + 100)
    buffer.push(torch.arange(3.0, 7.0)[:, None], torch.arange(3.0, 7.0)[:, None] + 100)
    assert len(buffer) == 5
    x, y = buffer.storage
    assert sorted(x.squeeze(1).tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert torch.equal(y - x, torch.full_like(x, 100.0))  # rows stay aligned


def test_batch_larger_than_capacity_keeps_last_rows():
    buffer = ReplayBuffer(4)
    buffer.push(torch.arange(10.0)[:, None])
    assert len(buffer) == 4
    assert sorted(buffer.storage[0].squeeze(1).tolist()) == [6.0, 7.0, 8.0, 9.0]


@pytest.mark.parametrize("batch", [1, 2, 7, 64])
def test_sample_any_batch_size_when_every_chain_is_reused(batch, generator):
    """The reference implementation crashed here for small batches; any n must work, rows stay aligned."""
    buffer = ReplayBuffer(16)
    buffer.push(torch.arange(3.0)[:, None], -torch.arange(3.0)[:, None])
    x, y = buffer.sample(batch, generator)
    assert x.shape == (batch, 1) and torch.equal(x, -y)
    assert set(x.squeeze(1).tolist()) <= {0.0, 1.0, 2.0}


def test_state_dict_round_trip(generator):
    buffer = ReplayBuffer(6)
    buffer.push(torch.randn(9, 2, generator=generator))
    copy = ReplayBuffer(1)
    copy.load_state_dict(buffer.state_dict())
    assert (copy.position, copy.size, copy.capacity) == (buffer.position, buffer.size, buffer.capacity)
    assert torch.equal(copy.storage[0][: copy.size], buffer.storage[0][: buffer.size])


def test_empty_buffer_and_bad_capacity():
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3).sample(1)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(0)
