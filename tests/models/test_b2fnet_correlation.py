"""Correlation: every implementation equals the straightforward loop, values and gradients."""

import pytest
import torch

from blurgen.models.b2fnet.correlation import (
    correlation, correlation_matmul, correlation_reference, correlation_shift,
)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)


@pytest.mark.parametrize("impl", [correlation_shift, correlation_matmul])
@pytest.mark.parametrize("shape,d", [((2, 5, 9, 13), 4), ((1, 3, 4, 70), 4), ((2, 4, 1, 1), 4), ((1, 6, 7, 5), 2)])
def test_matches_reference_values_and_gradients(impl, shape, d):
    g = torch.Generator().manual_seed(0)
    f1 = torch.randn(*shape, generator=g, dtype=torch.float64).float().requires_grad_()
    f2 = torch.randn(*shape, generator=g).requires_grad_()
    ref = correlation_reference(f1, f2, d)
    out = impl(f1, f2, d)
    assert out.shape == (shape[0], (2 * d + 1) ** 2, shape[2], shape[3])
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    w = torch.randn(ref.shape, generator=g)
    g_ref = torch.autograd.grad((ref * w).sum(), [f1, f2])
    g_out = torch.autograd.grad((out * w).sum(), [f1, f2])
    for a, b in zip(g_out, g_ref):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_shift_gradcheck_double():
    f1 = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    f2 = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    from blurgen.models.b2fnet.correlation import _ShiftCorrelation

    assert torch.autograd.gradcheck(lambda a, b: _ShiftCorrelation.apply(a, b, 2), (f1, f2))


def test_known_shift_peaks_at_its_displacement():
    # f2 is f1 moved by (dy, dx) = (2, -3): f2[y + 2, x - 3] = f1[y, x]
    g = torch.Generator().manual_seed(1)
    f1 = torch.randn(1, 16, 20, 20, generator=g)
    f2 = torch.zeros_like(f1)
    f2[:, :, 2:, :-3] = f1[:, :, :-2, 3:]
    for impl in ("shift", "matmul", "reference"):
        cost = correlation(f1, f2, 4, impl=impl)
        k = cost[0, :, 8, 8].argmax().item()
        dy, dx = k // 9 - 4, k % 9 - 4
        assert (dy, dx) == (2, -3), impl
        # value at the peak = mean over channels of f1^2 at that pixel
        torch.testing.assert_close(cost[0, k, 8, 8], (f1[0, :, 8, 8] ** 2).mean())


def test_zero_outside_frame():
    f1 = torch.ones(1, 2, 3, 3)
    f2 = torch.ones(1, 2, 3, 3)
    cost = correlation(f1, f2, 4, impl="shift")
    # top-left pixel: displacement (-1, -1) looks outside -> 0; (0, 0) inside -> 1
    assert cost[0, 3 * 9 + 3, 0, 0] == 0
    assert cost[0, 4 * 9 + 4, 0, 0] == 1


def test_auto_and_bad_impl():
    f = torch.randn(1, 2, 4, 40)
    torch.testing.assert_close(correlation(f, f), correlation_reference(f, f), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="unknown correlation impl"):
        correlation(f, f, impl="nope")
