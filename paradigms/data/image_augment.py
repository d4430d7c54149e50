"""Batched, device-resident image augmentation (SimCLR / BYOL recipes).

Every operation acts on a whole batch [B, C, H, W] at once, with random parameters drawn per
sample from a ``torch.Generator``; there is no Python loop over images. With the dataset on the
GPU, two views of a batch are made there and no CPU data loader is needed.

Pipeline of :func:`augment` (the order of SimCLR, Chen et al. 2020, appendix A, and BYOL, Grill et
al. 2020, table 6), each step applied to a sample with its own probability:

1. random resized crop + horizontal flip, one bilinear ``grid_sample`` with a per-sample affine
   grid. The crop has area fraction s ~ U(scale) of the image and aspect ratio r with
   log r ~ U(log ratio); w = √(s r)·√(HW), h = √(s/r)·√(HW) (sub-pixel, no rounding), position
   uniform inside the image. As in torchvision, 10 proposals are drawn and the first that fits is
   kept; if none fits, the whole image, centre-cropped to the nearest allowed ratio. The output is
   resampled bilinearly (no anti-aliasing: a strong down-scale aliases, as with
   ``antialias=False``).
2. colour jitter with probability ``jitter_p``: brightness x·b, contrast c·x + (1−c)·mean(grey x),
   saturation s·x + (1−s)·grey(x), hue rotation by h turns of the HSV hue circle; factors
   b, c, s ~ U(max(0, 1 − strength), 1 + strength), h ~ U(−hue, hue); the four are applied in a
   random order per sample, each followed by a clamp to [0, 1] (torchvision's ``ColorJitter``).
3. greyscale with probability ``grayscale_p``: grey = 0.299 R + 0.587 G + 0.114 B in every channel.
4. Gaussian blur with probability ``blur_p``: σ ~ U(blur_sigma), separable kernel of odd size
   (default ≈ 10 % of the crop), reflect padding.
5. solarize with probability ``solarize_p``: x ↦ 1 − x where x ≥ threshold.
6. optional normalisation (x − mean) / std.

Colour steps that need three channels (saturation, hue, greyscale) leave one-channel images as
they are. Inputs are uint8 (0–255) or float (0–1); outputs are float32 in [0, 1] (before the
optional normalisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from paradigms.data.types import check_image_batch

GREY_WEIGHTS = (0.2989, 0.587, 0.114)  # luma weights of torchvision's rgb_to_grayscale
RECIPES = ("simclr", "byol", "crop-flip")
_CROP_TRIALS = 10


@dataclass(frozen=True)
class AugmentConfig:
    """One view's augmentation; probabilities per sample, strengths as in torchvision."""

    crop_size: int
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    hue: float = 0.1
    grayscale_p: float = 0.2
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel: int | None = None
    solarize_p: float = 0.0
    solarize_threshold: float = 0.5
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.crop_size, bool) or not isinstance(self.crop_size, int):
            raise TypeError(f"crop_size must be an int, got {type(self.crop_size).__name__}")
        if self.crop_size < 2:
            raise ValueError(f"crop_size must be ≥ 2 pixels, got {self.crop_size}")
        lo, hi = self.crop_scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low ≤ high ≤ 1, got {self.crop_scale}")
        lo, hi = self.crop_ratio
        if not 0 < lo <= hi:
            raise ValueError(f"crop_ratio must satisfy 0 < low ≤ high, got {self.crop_ratio}")
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p", "solarize_p"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        for name in ("brightness", "contrast", "saturation"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        if not 0.0 <= self.hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5] (turns of the hue circle), got {self.hue}")
        lo, hi = self.blur_sigma
        if not 0 < lo <= hi:
            raise ValueError(f"blur_sigma must satisfy 0 < low ≤ high, got {self.blur_sigma}")
        if self.blur_kernel is not None and (self.blur_kernel < 1 or self.blur_kernel % 2 == 0):
            raise ValueError(f"blur_kernel must be a positive odd integer, got {self.blur_kernel}")
        if (self.mean is None) != (self.std is None):
            raise ValueError("give both mean and std for normalisation, or neither")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std}")

    @property
    def kernel_size(self) -> int:
        """Blur kernel size: ``blur_kernel`` or the odd integer nearest 10 % of the crop (≥ 3)."""
        if self.blur_kernel is not None:
            return self.blur_kernel
        k = max(3, round(0.1 * self.crop_size))
        return k if k % 2 == 1 else k + 1


def augmentation_recipe(
    name: str,
    crop_size: int,
    *,
    blur: bool | None = None,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
) -> tuple[AugmentConfig, AugmentConfig]:
    """The two view configurations of a named recipe.

    - ``"simclr"``: crop (0.08–1), flip, jitter (0.4, 0.4, 0.4, 0.1) p=0.8, grey p=0.2, blur p=0.5
      when ``blur`` (default: only for crops ≥ 64 px; SimCLR drops blur on CIFAR). Same for both.
    - ``"byol"``: jitter (0.4, 0.4, 0.2, 0.1) p=0.8, grey p=0.2; view A blur p=1.0, no solarize;
      view B blur p=0.1, solarize p=0.2 (BYOL table 6; blur off for small crops unless ``blur``).
    - ``"crop-flip"``: random resized crop (0.2–1) and flip only (weak; for quick CPU runs).
    """
    if name not in RECIPES:
        raise ValueError(f"unknown augmentation recipe {name!r}; expected one of {RECIPES}")
    use_blur = crop_size >= 64 if blur is None else bool(blur)
    norm = {"mean": mean, "std": std}
    if name == "simclr":
        view = AugmentConfig(
            crop_size, saturation=0.4, blur_p=0.5 if use_blur else 0.0, **norm
        )
        return view, view
    if name == "byol":
        a = AugmentConfig(crop_size, blur_p=1.0 if use_blur else 0.0, **norm)
        b = AugmentConfig(
            crop_size, blur_p=0.1 if use_blur else 0.0, solarize_p=0.2, **norm
        )
        return a, b
    view = AugmentConfig(
        crop_size, crop_scale=(0.2, 1.0), jitter_p=0.0, grayscale_p=0.0, **norm
    )
    return view, view


# ----------------------------------------------------------------------------- random draws


def _rand(generator: torch.Generator, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """U(0, 1) draws from ``generator`` (on its own device), moved to ``device``."""
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def _uniform(
    generator: torch.Generator, n: int, low: float, high: float, device: torch.device
) -> torch.Tensor:
    return low + (high - low) * _rand(generator, (n,), device)


def sample_crop_boxes(
    n: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Random-resized-crop boxes [n, 4] = (x0, y0, w, h) in pixels (float, sub-pixel).

    See the module docstring for the distribution; every box lies inside [0, W] × [0, H].
    """
    device = torch.device(device)
    area = float(height * width)
    u = _rand(generator, (4, n, _CROP_TRIALS), device)
    s = scale[0] + (scale[1] - scale[0]) * u[0]
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[1]
    r = torch.exp(log_r)
    w = torch.sqrt(area * s * r)
    h = torch.sqrt(area * s / r)
    fits = (w <= width) & (h <= height)
    first = torch.argmax(fits.to(torch.int8), dim=1)  # first fitting trial (0 if none fits)
    any_fit = fits.any(dim=1)
    pick = first[:, None]
    w = w.gather(1, pick)[:, 0]
    h = h.gather(1, pick)[:, 0]
    # fallback: the whole image centre-cropped to the nearest allowed aspect ratio
    in_ratio = width / height
    if in_ratio < ratio[0]:
        fw, fh = float(width), width / ratio[0]
    elif in_ratio > ratio[1]:
        fw, fh = height * ratio[1], float(height)
    else:
        fw, fh = float(width), float(height)
    w = torch.where(any_fit, w, torch.full_like(w, fw))
    h = torch.where(any_fit, h, torch.full_like(h, fh))
    fx = u[2, :, 0]
    fy = u[3, :, 0]
    x0 = torch.where(any_fit, fx * (width - w), (width - w) / 2)
    y0 = torch.where(any_fit, fy * (height - h), (height - h) / 2)
    return torch.stack([x0, y0, w, h], dim=1)


# ----------------------------------------------------------------------------- geometric


def crop_flip_resize(
    images: torch.Tensor, boxes: torch.Tensor, flip: torch.Tensor, size: int
) -> torch.Tensor:
    """Crop each image to its box (x0, y0, w, h in pixels), flip where ``flip``, resize to size².

    One bilinear ``grid_sample`` with the per-sample affine map (align_corners=False):
    x_n = (w/W)·(±u) + (2 x0 + w)/W − 1, y_n = (h/H)·v + (2 y0 + h)/H − 1 for output
    coordinates u, v ∈ [−1, 1].
    """
    b, c, height, width = images.shape
    x0, y0, w, h = boxes.to(images.dtype).unbind(1)
    sign = 1.0 - 2.0 * flip.to(images.dtype)
    theta = torch.zeros(b, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = w / width * sign
    theta[:, 0, 2] = (2 * x0 + w) / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = (2 * y0 + h) / height - 1
    grid = F.affine_grid(theta, [b, c, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


# ----------------------------------------------------------------------------- colour


def _per_sample(f: torch.Tensor) -> torch.Tensor:
    return f.view(-1, 1, 1, 1)


def grey(x: torch.Tensor) -> torch.Tensor:
    """Luma [B, 1, H, W] of RGB images (one-channel images are returned as they are)."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (GREY_WEIGHTS[0] * r + GREY_WEIGHTS[1] * g + GREY_WEIGHTS[2] * b).unsqueeze(1)


def _linear_colour(
    x: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor
) -> torch.Tensor:
    """clamp(α x + β · mean(grey x) + γ · grey(x)) with per-sample α, β, γ.

    Brightness is (b, 0, 0), contrast (c, 1 − c, 0), saturation (s, 0, 1 − s): one pass of
    arithmetic serves all three.
    """
    g = grey(x)
    m = g.mean(dim=(1, 2, 3), keepdim=True)
    out = _per_sample(alpha) * x + _per_sample(beta) * m + _per_sample(gamma) * g
    return out.clamp_(0.0, 1.0)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """clamp(x · b) per sample."""
    return (x * _per_sample(factor)).clamp(0.0, 1.0)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """clamp(c · x + (1 − c) · m), m the mean grey level of each image."""
    zero = torch.zeros_like(factor)
    return _linear_colour(x, factor, 1 - factor, zero)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """clamp(s · x + (1 − s) · grey(x)); identity for one-channel images."""
    if x.shape[1] == 1:
        return x
    zero = torch.zeros_like(factor)
    return _linear_colour(x, factor, zero, 1 - factor)


def adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the HSV hue by ``shift`` turns per sample; identity for one-channel images.

    Hexcone model: with M = max, m = min, Δ = M − m of (R, G, B), the hue in sixths is
    H6 = (G − B)/Δ if M = R, 2 + (B − R)/Δ if M = G, else 4 + (R − G)/Δ. Rotation keeps M and Δ;
    channel n ∈ {R: 5, G: 3, B: 1} becomes M − Δ · clamp(min(k, 4 − k), 0, 1) with
    k = (n + H6 + 6·shift) mod 6. Grey pixels (Δ = 0) are unchanged.
    """
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    maxc = x.amax(dim=1)
    minc = x.amin(dim=1)
    delta = maxc - minc
    d = torch.where(delta > 0, delta, torch.ones_like(delta))
    h6 = torch.where(
        maxc == r, (g - b) / d, torch.where(maxc == g, 2.0 + (b - r) / d, 4.0 + (r - g) / d)
    )
    h6 = h6 + 6.0 * shift.view(-1, 1, 1)
    n = (5.0 - 2.0 * torch.arange(3, device=x.device, dtype=x.dtype)).view(1, 3, 1, 1)  # 5, 3, 1
    k = torch.remainder(n + h6.unsqueeze(1), 6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    return (maxc.unsqueeze(1) - delta.unsqueeze(1) * ramp).clamp_(0.0, 1.0)


def color_jitter(
    x: torch.Tensor,
    apply: torch.Tensor,
    factors: torch.Tensor,
    order: torch.Tensor,
) -> torch.Tensor:
    """Jitter the samples where ``apply``; ``factors`` [B, 4] = (b, c, s, h), ``order`` [B, 4].

    Each sample applies the operations ``order[i]`` (0 brightness, 1 contrast, 2 saturation,
    3 hue) in its own random order. The hue rotation, the costly one, runs once over the batch:
    every sample first takes the linear operations that precede its hue step (three
    :func:`_linear_colour` passes, identity coefficients where a sample has fewer), then the hue
    step, then the linear operations after it (three more passes). Identity passes are exact
    (1·x + 0, clamped inside [0, 1]), so each sample gets the same arithmetic as four passes in
    its order would give. One-channel images have no hue step: four passes in order.
    """
    one = torch.ones_like(factors[:, 0])
    zero = torch.zeros_like(one)
    colour = x.shape[1] == 3
    none = torch.full_like(order[:, 0], -1)
    hue_at = (order == 3).int().argmax(dim=1)  # position of the hue step in each sample's order

    def linear(x: torch.Tensor, ops: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """One pass: operation ``ops[i]`` on sample i where ``active[i]``, identity elsewhere."""
        op = torch.where(active, ops, none)
        f = factors.gather(1, ops.clamp(0, 2).unsqueeze(1))[:, 0]
        is_b, is_c, is_s = op == 0, op == 1, (op == 2) & colour
        alpha = torch.where(is_b | is_c | is_s, f, one)
        beta = torch.where(is_c, 1 - f, zero)
        gamma = torch.where(is_s, 1 - f, zero)
        return _linear_colour(x, alpha, beta, gamma)

    if not colour:  # no hue step: the four positions in order (hue and saturation are identity)
        for j in range(4):
            x = linear(x, order[:, j], apply)
        return x
    for j in range(3):  # the linear steps before the hue step
        x = linear(x, order[:, j], apply & (j < hue_at))
    x = torch.where(_per_sample(apply), adjust_hue(x, factors[:, 3]), x)
    for j in range(3):  # and after it
        position = hue_at + 1 + j
        ops = order.gather(1, position.clamp(max=3).unsqueeze(1))[:, 0]
        x = linear(x, ops, apply & (position < 4))
    return x


# ----------------------------------------------------------------------------- blur, solarize


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Separable Gaussian blur, σ per sample, reflect padding (torchvision's kernel).

    Weights ∝ exp(−t² / 2σ²) at t = −(k−1)/2 … (k−1)/2, normalised to sum 1; done as a grouped
    convolution with one group per (sample, channel).
    """
    b, c, height, width = x.shape
    half = (kernel_size - 1) / 2
    t = torch.linspace(-half, half, kernel_size, device=x.device, dtype=x.dtype)
    kern = torch.exp(-0.5 * (t[None, :] / sigma.to(x.dtype)[:, None]) ** 2)
    kern = kern / kern.sum(dim=1, keepdim=True)
    kern = kern.repeat_interleave(c, dim=0)  # [B*C, k]
    pad = kernel_size // 2
    if pad >= min(height, width):
        raise ValueError(
            f"blur kernel {kernel_size} too large for {height}×{width} images (reflect padding "
            f"needs kernel_size // 2 < image side); set blur_kernel smaller"
        )
    y = x.reshape(1, b * c, height, width)
    y = F.pad(y, (pad, pad, pad, pad), mode="reflect")
    y = F.conv2d(y, kern.view(b * c, 1, 1, kernel_size), groups=b * c)
    y = F.conv2d(y, kern.view(b * c, 1, kernel_size, 1), groups=b * c)
    return y.view(b, c, height, width)


def solarize(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """x ↦ 1 − x where x ≥ threshold."""
    return torch.where(x >= threshold, 1.0 - x, x)


# ----------------------------------------------------------------------------- pipeline


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0–255 → float32 0–1; floating input is cast to float32 (assumed in [0, 1])."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32).div_(255.0)
    return images.to(torch.float32)


def augment(
    images: torch.Tensor,
    config: AugmentConfig,
    generator: torch.Generator,
    rows: slice | None = None,
) -> torch.Tensor:
    """One augmented view of every image: float32 [B, C, crop, crop] on ``images.device``.

    ``generator`` may live on any device (its draws are moved to the images' device); the same
    generator state gives the same output. With ``rows`` only those images are transformed and
    returned, but the random parameters of the whole batch are drawn first (the generator ends in
    the same state), so ``augment(x, c, g, rows)`` equals ``augment(x, c, g)[rows]``: each rank of
    a distributed run pays for its own shard of the global batch only.
    """
    check_image_batch(images)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if rows is not None and not isinstance(rows, slice):
        raise TypeError(f"rows must be a slice or None, got {type(rows).__name__}")
    n, c, height, width = images.shape
    dev = images.device
    if config.mean is not None and (len(config.mean) != c or len(config.std or ()) != c):
        raise ValueError(
            f"mean/std have {len(config.mean)} entries but the images have {c} channels"
        )
    # every draw for the whole batch, in a fixed order, before any image work
    boxes = sample_crop_boxes(
        n, height, width, config.crop_scale, config.crop_ratio, generator, dev
    )
    coins = _rand(generator, (n, 5), dev)  # flip, jitter, grey, blur, solarize
    if config.jitter_p > 0:
        u = _rand(generator, (n, 4), dev)
        shuffle = _rand(generator, (n, 4), dev)
    if config.blur_p > 0:
        sigma = _uniform(generator, n, config.blur_sigma[0], config.blur_sigma[1], dev)
    if rows is not None:
        images, boxes, coins = images[rows], boxes[rows], coins[rows]
        if config.jitter_p > 0:
            u, shuffle = u[rows], shuffle[rows]
        if config.blur_p > 0:
            sigma = sigma[rows]

    x = crop_flip_resize(to_float(images), boxes, coins[:, 0] < config.flip_p, config.crop_size)
    if config.jitter_p > 0:
        strengths = (config.brightness, config.contrast, config.saturation)
        ranges = [(max(0.0, 1 - s), 1 + s) for s in strengths] + [(-config.hue, config.hue)]
        # python-float bounds: no host-to-device copy in the hot path
        factors = torch.stack([lo + (hi - lo) * u[:, j] for j, (lo, hi) in enumerate(ranges)], 1)
        x = color_jitter(x, coins[:, 1] < config.jitter_p, factors, torch.argsort(shuffle, dim=1))
    if config.grayscale_p > 0 and c == 3:
        gray = coins[:, 2] < config.grayscale_p
        x = torch.where(_per_sample(gray), grey(x).expand_as(x), x)
    if config.blur_p > 0:
        blurred = gaussian_blur(x, sigma, config.kernel_size)
        x = torch.where(_per_sample(coins[:, 3] < config.blur_p), blurred, x)
    if config.solarize_p > 0:
        sol = coins[:, 4] < config.solarize_p
        x = torch.where(_per_sample(sol), solarize(x, config.solarize_threshold), x)
    x = x.clamp_(0.0, 1.0)  # bilinear weights can overshoot 1 by a rounding error
    if config.mean is not None and config.std is not None:
        pairs = zip(config.mean, config.std, strict=True)
        x = torch.cat([(x[:, k : k + 1] - m) / s for k, (m, s) in enumerate(pairs)], dim=1)
    return x


def two_views(
    images: torch.Tensor,
    view_a: AugmentConfig,
    view_b: AugmentConfig,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independently augmented views (x_a, x_b) of the same batch."""
    return augment(images, view_a, generator), augment(images, view_b, generator)
