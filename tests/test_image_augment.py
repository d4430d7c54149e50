"""Batched augmentation: shapes, ranges, determinism, exactness against torchvision, statistics."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.transforms.functional as TF

from paradigms.data import image_augment as A

# Two-sided 99.9 % normal quantile for binomial-proportion checks: a correct sampler fails one
# such check with probability 1e-3.
Z999 = 3.29


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _identity(size: int, **kw) -> A.AugmentConfig:
    base = dict(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0,
                grayscale_p=0.0)
    base.update(kw)
    return A.AugmentConfig(size, **base)


def test_identity_settings_give_identity():
    """Full-image crop at the same size samples exactly at pixel centres: output = input/255
    up to float32 rounding of the grid coordinates (≤ a few 1e-7 times the pixel range)."""
    x = torch.randint(0, 256, (5, 3, 12, 12), dtype=torch.uint8)
    out = A.augment(x, _identity(12), _gen())
    assert out.dtype == torch.float32 and out.shape == (5, 3, 12, 12)
    torch.testing.assert_close(out, x.float() / 255, atol=1e-5, rtol=0)


def test_shapes_dtypes_ranges_and_normalisation():
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    for name in A.RECIPES:
        va, vb = A.augmentation_recipe(name, 24, blur=True)
        a, b = A.two_views(x, va, vb, _gen(1))
        for v in (a, b):
            assert v.shape == (16, 3, 24, 24) and v.dtype == torch.float32
            assert v.min() >= 0 and v.max() <= 1
        assert not torch.equal(a, b)
    va, _ = A.augmentation_recipe("simclr", 24, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    plain = A.augment(x, A.augmentation_recipe("simclr", 24)[0], _gen(2))
    normed = A.augment(x, va, _gen(2))
    torch.testing.assert_close(normed, (plain - 0.5) / 0.25)


def test_one_channel_images_and_float_input_match_uint8():
    x = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    cfg = A.augmentation_recipe("simclr", 28)[0]
    out_u8 = A.augment(x, cfg, _gen(3))
    out_f = A.augment(x.float() / 255, cfg, _gen(3))
    assert out_u8.shape == (8, 1, 28, 28)
    torch.testing.assert_close(out_u8, out_f)


def test_deterministic_under_generator():
    x = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    cfg = A.augmentation_recipe("byol", 16, blur=True)[1]
    assert torch.equal(A.augment(x, cfg, _gen(7)), A.augment(x, cfg, _gen(7)))
    assert not torch.equal(A.augment(x, cfg, _gen(7)), A.augment(x, cfg, _gen(8)))


@pytest.mark.parametrize("recipe", ["simclr", "byol"])
def test_rows_give_the_shard_of_the_full_batch_views(recipe):
    """A distributed rank augments only its shard: augment(x, c, g, rows) must equal the rows of
    the whole-batch view, and leave the generator where the whole-batch call leaves it."""
    x = torch.randint(0, 256, (12, 3, 16, 16), dtype=torch.uint8)
    for cfg in A.augmentation_recipe(recipe, 16, blur=True):
        g_full, g_rows = _gen(4), _gen(4)
        full = A.augment(x, cfg, g_full)
        for rows in (slice(0, 4), slice(4, 12)):
            torch.testing.assert_close(A.augment(x, cfg, _gen(4), rows), full[rows])
        A.augment(x, cfg, g_rows, slice(8, 12))
        assert torch.equal(g_rows.get_state(), g_full.get_state())
    with pytest.raises(TypeError, match="rows must be a slice"):
        A.augment(x, cfg, _gen(), rows=[0, 1])


@pytest.mark.parametrize(
    ("ours", "theirs", "factors"),
    [
        (A.adjust_brightness, TF.adjust_brightness, [0.5, 0.9, 1.2, 1.4, 0.0, 1.0]),
        (A.adjust_contrast, TF.adjust_contrast, [0.5, 0.9, 1.2, 1.4, 0.0, 1.0]),
        (A.adjust_saturation, TF.adjust_saturation, [0.5, 0.9, 1.2, 1.4, 0.0, 1.0]),
        (A.adjust_hue, TF.adjust_hue, [-0.1, 0.05, 0.3, -0.4, 0.0, 0.5]),
    ],
)
def test_colour_ops_match_torchvision_per_sample(ours, theirs, factors):
    """Each batched op with per-sample factors equals torchvision's per-image op (float32
    rounding: the HSV path divides by chroma, so allow 1e-5)."""
    g = _gen(4)
    x = torch.rand(6, 3, 10, 10, generator=g)
    x[0, :, :3, :3] = 0.5  # grey pixels (zero chroma)
    x[1, 0] = x[1, 1]  # ties between channels
    f = torch.tensor(factors)
    ref = torch.stack([theirs(x[i], float(f[i])) for i in range(6)])
    torch.testing.assert_close(ours(x, f), ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("channels", [3, 1])
def test_color_jitter_applies_each_samples_own_order_as_torchvision(channels):
    """The batched jitter (one hue pass) equals torchvision's ops applied one image at a time in
    that image's order, for all 24 orders, with jitter off for some images (1e-5: the HSV path)."""
    import itertools

    orders = torch.tensor(list(itertools.permutations(range(4))) * 2)  # 48 images, every order
    n = orders.shape[0]
    g = _gen(5)
    x = torch.rand(n, channels, 8, 8, generator=g)
    factors = torch.stack(
        [0.6 + 0.8 * torch.rand(n, generator=g) for _ in range(3)]
        + [0.2 * torch.rand(n, generator=g) - 0.1],
        dim=1,
    )
    apply = torch.rand(n, generator=g) < 0.8
    ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    expected = []
    for i in range(n):
        image = x[i]
        if apply[i]:
            for op in orders[i].tolist():
                if channels == 3 or op in (0, 1):  # saturation and hue need colour
                    image = ops[op](image, float(factors[i, op]))
        expected.append(image)
    got = A.color_jitter(x.clone(), apply, factors, orders)
    torch.testing.assert_close(got, torch.stack(expected), atol=1e-5, rtol=0)


def test_color_jitter_computes_the_hue_once():
    """The hue rotation (its amax/amin) runs once per call, not once per pass."""
    from paradigms.measurement.profiling import count_aten_ops

    n = 16
    order = torch.stack([torch.randperm(4, generator=_gen(i)) for i in range(n)])
    factors = torch.full((n, 4), 0.5)
    factors[:, 3] = 0.05
    with count_aten_ops() as ops:
        A.color_jitter(torch.rand(n, 3, 8, 8), torch.ones(n, dtype=torch.bool), factors, order)
    assert ops.ops["aten::amax"] == 1 and ops.ops["aten::amin"] == 1


def test_gaussian_blur_matches_torchvision():
    x = torch.rand(4, 3, 12, 12, generator=_gen(5))
    sigma = torch.tensor([0.2, 0.7, 1.3, 2.0])
    ours = A.gaussian_blur(x, sigma, 5)
    ref = torch.stack([TF.gaussian_blur(x[i], [5, 5], [float(sigma[i])] * 2) for i in range(4)])
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)


def test_solarize_and_grayscale_always():
    x = torch.rand(4, 3, 8, 8, generator=_gen(6))
    sol = A.augment(x, _identity(8, solarize_p=1.0, solarize_threshold=0.3), _gen())
    torch.testing.assert_close(sol, torch.where(x >= 0.3, 1 - x, x), atol=1e-5, rtol=0)
    gray = A.augment(x, _identity(8, grayscale_p=1.0), _gen())
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])
    w = torch.tensor(A.GREY_WEIGHTS).view(1, 3, 1, 1)
    torch.testing.assert_close(gray[:, :1], (x * w).sum(1, keepdim=True), atol=1e-5, rtol=0)


def _binomial_ok(k: int, n: int, p: float) -> bool:
    return abs(k / n - p) <= Z999 * math.sqrt(p * (1 - p) / n)


def test_flip_probability_within_binomial_ci():
    """A left-right ramp image is flipped in a fraction of samples ~ Binomial(n, 0.5)/n."""
    n = 2000
    ramp = torch.linspace(0, 1, 8).view(1, 1, 1, 8).expand(n, 3, 8, 8).contiguous()
    out = A.augment(ramp, _identity(8, flip_p=0.5), _gen(9))
    flipped = (out[:, 0, 0, 0] > out[:, 0, 0, -1]).sum().item()
    unflipped = torch.isclose(out, ramp, atol=1e-5).flatten(1).all(1).sum().item()
    assert flipped + unflipped == n
    assert _binomial_ok(flipped, n, 0.5)


def test_grayscale_probability_within_binomial_ci():
    n, p = 2000, 0.2
    x = torch.rand(n, 3, 4, 4, generator=_gen(10))
    out = A.augment(x, _identity(4, grayscale_p=p), _gen(11))
    equal = (out[:, 0] == out[:, 1]).flatten(1).all(1) & (out[:, 1] == out[:, 2]).flatten(1).all(1)
    assert _binomial_ok(int(equal.sum()), n, p)


def test_brightness_only_jitter_factor_range_and_probability():
    """With only brightness (0.4) and jitter_p = 0.5 on dark images (no clamping), each output is
    b·input with b in [0.6, 1.4]; the jittered fraction is Binomial(n, 0.5)/n and, b being
    U(0.6, 1.4), its mean is 1 ± 3.29·(0.8/√12)/√k."""
    n = 2000
    x = 0.1 + 0.5 * torch.rand(n, 3, 4, 4, generator=_gen(12))
    cfg = _identity(4, jitter_p=0.5, brightness=0.4, contrast=0.0, saturation=0.0, hue=0.0)
    out = A.augment(x, cfg, _gen(13))
    ratio = (out / x).flatten(1)
    torch.testing.assert_close(ratio.min(1).values, ratio.max(1).values, atol=1e-4, rtol=0)
    b = ratio[:, 0]
    assert b.min() >= 0.6 - 1e-4 and b.max() <= 1.4 + 1e-4
    changed = (b - 1).abs() > 1e-4
    k = int(changed.sum())
    assert _binomial_ok(k, n, 0.5)
    se = (0.8 / math.sqrt(12)) / math.sqrt(k)
    assert abs(b[changed].mean().item() - 1.0) <= Z999 * se


def test_crop_boxes_inside_image_with_scale_and_ratio_in_range():
    g = _gen(14)
    boxes = A.sample_crop_boxes(5000, 32, 48, (0.08, 1.0), (3 / 4, 4 / 3), g)
    x0, y0, w, h = boxes.unbind(1)
    assert (x0 >= 0).all() and (y0 >= 0).all()
    assert (x0 + w <= 48 + 1e-3).all() and (y0 + h <= 32 + 1e-3).all()
    area = w * h / (32 * 48)
    ratio = w / h
    assert area.min() >= 0.08 - 1e-4 and area.max() <= 1 + 1e-4
    assert ratio.min() >= 3 / 4 - 1e-4 and ratio.max() <= 4 / 3 + 1e-4


def test_crop_selects_the_right_region():
    """A box over the top-left quadrant of a 2×2-block image returns that block's value."""
    x = torch.zeros(1, 1, 8, 8)
    x[..., :4, :4] = 1.0
    box = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
    out = A.crop_flip_resize(x, box, torch.tensor([False]), 4)
    torch.testing.assert_close(out, torch.ones(1, 1, 4, 4))


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="crop_scale"):
        A.AugmentConfig(32, crop_scale=(0.5, 0.2))
    with pytest.raises(ValueError, match="flip_p"):
        A.AugmentConfig(32, flip_p=1.5)
    with pytest.raises(ValueError, match="recipe"):
        A.augmentation_recipe("dino", 32)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        A.augment(torch.rand(3, 32, 32), A.AugmentConfig(32), _gen())
    with pytest.raises(ValueError, match="channels"):
        A.augment(torch.rand(2, 32, 32, 3), A.AugmentConfig(32), _gen())
    with pytest.raises(TypeError, match="Generator"):
        A.augment(torch.rand(2, 3, 8, 8), A.AugmentConfig(8), 0)
    with pytest.raises(ValueError, match="blur kernel"):
        A.augment(torch.rand(2, 3, 4, 4), _identity(4, blur_p=1.0, blur_kernel=9), _gen())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_gpu_same_result_as_cpu_for_the_same_draws():
    """With a CPU generator the random parameters are identical, so a GPU batch must equal the CPU
    result up to float32 kernel differences (1e-4); a CUDA generator keeps everything on the GPU."""
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    cfg = A.augmentation_recipe("byol", 32, blur=True)[1]
    cpu = A.augment(x, cfg, _gen(21))
    gpu = A.augment(x.cuda(), cfg, _gen(21))
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)
    g1 = torch.Generator(device="cuda").manual_seed(3)
    g2 = torch.Generator(device="cuda").manual_seed(3)
    assert torch.equal(A.augment(x.cuda(), cfg, g1), A.augment(x.cuda(), cfg, g2))


def test_crop_area_ratio_and_position_distributions():
    """When every proposal fits, area fraction s ~ U(scale), log ratio ~ U(log ratio) and the
    offset fraction x0/(W − w) ~ U(0, 1). Sample means must lie within 3.29 standard errors
    (σ/√n with σ = width/√12) of the uniform means."""
    n = 5000
    z = Z999 / math.sqrt(12 * n)
    boxes = A.sample_crop_boxes(n, 40, 40, (0.25, 0.5), (1.0, 1.0), _gen(15))
    x0, _, w, h = boxes.unbind(1)
    area = w * h / 1600
    assert abs(area.mean().item() - 0.375) <= 0.25 * z
    pos = x0 / (40 - w)
    assert abs(pos.mean().item() - 0.5) <= 1.0 * z
    boxes = A.sample_crop_boxes(n, 40, 40, (0.01, 0.02), (0.5, 2.0), _gen(16))
    log_r = torch.log(boxes[:, 2] / boxes[:, 3])
    assert abs(log_r.mean().item()) <= 2 * math.log(2) * z
