"""Backbones: output shapes, CIFAR stem, channels_last equivalence, bad names."""

from __future__ import annotations

import pytest
import torch

from paradigms.networks.images import BACKBONES, build_backbone


@pytest.mark.parametrize(
    ("name", "kw", "shape", "dim"),
    [
        ("smallcnn", {"in_channels": 1}, (2, 1, 28, 28), 128),
        ("smallcnn", {"in_channels": 3, "width": 8}, (2, 3, 32, 32), 32),
        ("resnet18", {"cifar_stem": True}, (2, 3, 32, 32), 512),
        ("resnet18", {"in_channels": 1}, (2, 1, 64, 64), 512),
    ],
)
def test_output_shape_matches_feature_dim(name, kw, shape, dim):
    torch.manual_seed(0)
    net, feature_dim = build_backbone(name, **kw)
    assert feature_dim == dim
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(*shape)).shape == (shape[0], dim)


@pytest.mark.slow
def test_resnet50_feature_dim():
    net, dim = build_backbone("resnet50", cifar_stem=True)
    with torch.no_grad():
        assert net.eval()(torch.randn(1, 3, 32, 32)).shape == (1, dim) and dim == 2048


def test_cifar_stem_keeps_resolution_into_layer1():
    """CIFAR stem: 3×3 stride-1 conv and no max-pool, so layer1 sees 32×32; the ImageNet stem
    (7×7/2 + pool/2) gives 8×8."""
    seen = {}
    for stem in (True, False):
        net, _ = build_backbone("resnet18", cifar_stem=stem)
        net.layer1.register_forward_hook(lambda m, i, o, s=stem: seen.__setitem__(s, o.shape))
        with torch.no_grad():
            net.eval()(torch.randn(1, 3, 32, 32))
    assert seen[True][-2:] == (32, 32) and seen[False][-2:] == (8, 8)
    net, _ = build_backbone("resnet18", cifar_stem=True)
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, torch.nn.Identity) and isinstance(net.fc, torch.nn.Identity)


@pytest.mark.parametrize("name", ["smallcnn", "resnet18"])
def test_channels_last_gives_same_features(name):
    torch.manual_seed(1)
    net, _ = build_backbone(name, cifar_stem=True, in_channels=3)
    net.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)
        net_cl = net.to(memory_format=torch.channels_last)
        out = net_cl(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_bad_names_and_arguments():
    with pytest.raises(ValueError, match=", ".join(BACKBONES)):
        build_backbone("vit_b16")
    with pytest.raises(TypeError, match="string"):
        build_backbone(18)
    with pytest.raises(ValueError, match="in_channels"):
        build_backbone("resnet18", in_channels=0)
    with pytest.raises(ValueError, match="width"):
        build_backbone("smallcnn", width=0)


def _gpu_check_main():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.main


def test_gpu_check_script_cpu_smoke(tmp_path):
    """The GPU check runs train() itself on a recipe, end to end on CPU (--tiny)."""
    import json

    out = tmp_path / "gpu_check.json"
    assert _gpu_check_main()(["--device", "cpu", "--tiny", "--methods", "byol",
                              "--out", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert [r["method"] for r in results] == ["byol"]
    for r in results:
        assert r["finite"] and r["steps"] == [2, 4] and r["image_pairs_per_s"] > 0
        assert r["online_probe_acc"] is not None and r["knn_acc"] is not None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_check_script_on_cuda(tmp_path):
    import json

    out = tmp_path / "gpu_check.json"
    args = ["--methods", "simclr", "--steps", "5", "15", "--out", str(out)]
    assert _gpu_check_main()(args) == 0
    result = json.loads(out.read_text())["results"][0]
    assert result["image_pairs_per_s"] > 0 and result["peak_mem_gib"] > 0
