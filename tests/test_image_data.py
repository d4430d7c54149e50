"""Image data: IDX reader, Fashion-MNIST files, digits, FakeData, image folders, clear errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from paradigms.data import images as D

FMNIST_PRESENT = (D.FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz").is_file()


def _write_idx(path, arr: np.ndarray, code: int, gz: bool) -> None:
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    raw = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip_all_layouts(tmp_path, gz):
    rng = np.random.default_rng(0)
    for code, dtype in [(0x08, np.uint8), (0x0C, np.int32), (0x0D, np.float32)]:
        arr = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
        p = tmp_path / f"a{code}"
        _write_idx(p, arr, code, gz)
        back = D.read_idx(p)
        assert back.dtype == np.dtype(dtype) and np.array_equal(back, arr)


def test_idx_truncated_or_foreign_file_is_rejected(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / "x-ubyte"
    _write_idx(p, arr, 0x08, gz=False)
    p.write_bytes(p.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        D.read_idx(p)
    p.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX"):
        D.read_idx(p)


def test_fashion_mnist_from_a_folder_of_plain_files(tmp_path):
    imgs = np.random.default_rng(1).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5, 9], dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", imgs, 0x08, gz=False)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels, 0x08, gz=False)
    ds = D.load_image_dataset("fashion-mnist", root=tmp_path, split="test")
    assert ds.images.shape == (7, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert torch.equal(ds.images[:, 0], torch.from_numpy(imgs))
    assert ds.labels.tolist() == labels.tolist() and ds.num_classes == 10


@pytest.mark.skipif(not FMNIST_PRESENT, reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_real_debian_files():
    """The real files: 10,000 test images, 1,000 per class (the published split)."""
    ds = D.load_image_dataset("fashion-mnist", split="test")
    assert ds.images.shape == (10_000, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert torch.equal(torch.bincount(ds.labels), torch.full((10,), 1000))
    assert 0 < ds.images.float().mean() < 255


def test_missing_datasets_say_where_to_put_files(tmp_path):
    with pytest.raises(ValueError, match="dataset-fashion-mnist"):
        D.load_image_dataset("fashion-mnist", root=tmp_path)
    with pytest.raises(ValueError, match="cifar-10-batches-py"):
        D.load_image_dataset("cifar10", root=tmp_path)
    with pytest.raises(ValueError, match="root=FOLDER"):
        D.load_image_dataset("cifar100")
    with pytest.raises(ValueError, match="tiny-imagenet-200"):
        D.load_image_dataset("tinyimagenet", root=tmp_path)
    with pytest.raises(ValueError, match="train"):
        D.load_image_dataset("imagenet100", root=tmp_path)
    with pytest.raises(ValueError, match="imagefolder"):
        D.load_image_dataset(f"imagefolder:{tmp_path / 'nope'}")
    with pytest.raises(ValueError, match="unknown image dataset"):
        D.load_image_dataset("mnist")
    with pytest.raises(ValueError, match="split"):
        D.load_image_dataset("digits", split="val")


def test_cifar10_from_a_local_python_folder(tmp_path, monkeypatch):
    """A minimal cifar-10-batches-py folder in torchvision's pickle layout is read as uint8 NCHW."""
    import pickle

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(2)
    data = rng.integers(0, 256, (4, 3 * 32 * 32), dtype=np.uint8)
    batch = {"data": data, "labels": [3, 1, 4, 1]}
    (folder / "test_batch").write_bytes(pickle.dumps(batch))
    meta = {"label_names": [str(i) for i in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    # torchvision checks md5 sums of the real files; ours are stand-ins
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *a, **k: True)
    ds = D.load_image_dataset("cifar10", root=tmp_path, split="test")
    assert ds.images.shape == (4, 3, 32, 32) and ds.labels.tolist() == [3, 1, 4, 1]
    assert torch.equal(ds.images[0], torch.from_numpy(data[0].reshape(3, 32, 32)))


def test_digits_split_is_disjoint_and_complete():
    tr = D.load_image_dataset("digits", split="train", seed=3)
    te = D.load_image_dataset("digits", split="test", seed=3)
    assert len(tr) + len(te) == 1797 and tr.images.shape[1:] == (1, 8, 8)
    assert tr.images.max() == 255 and tr.images.dtype == torch.uint8


def test_fake_data_is_seeded_and_shaped():
    a = D.load_image_dataset("fake", size=6, image_size=(1, 12, 10), num_classes=3, seed=4)
    b = D.load_image_dataset("fake", size=6, image_size=(1, 12, 10), num_classes=3, seed=4)
    c = D.load_image_dataset("fake", size=6, image_size=(1, 12, 10), num_classes=3, seed=5)
    assert a.images.shape == (6, 1, 12, 10) and a.labels.max() < 3
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    with pytest.raises(ValueError, match="image_size"):
        D.load_image_dataset("fake", image_size=(4, 8, 8))


def test_image_folder_reader(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(5)
    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            d = tmp_path / split / cls / "images"
            d.mkdir(parents=True)
            for i in range(2):
                arr = rng.integers(0, 256, (10, 14, 3), dtype=np.uint8)
                Image.fromarray(arr).save(d / f"{i}.png")
    (tmp_path / "train" / "dog" / "notes.txt").write_text("not an image")
    ds = D.load_image_dataset(f"imagefolder:{tmp_path}", split="test", image_size=8)
    assert len(ds) == 4 and ds.classes == ("cat", "dog")
    x, y = ds[3]
    assert x.shape == (3, 8, 8) and x.dtype == torch.uint8 and y == 1
    mem = ds.to_tensors()
    assert mem.images.shape == (4, 3, 8, 8) and mem.labels.tolist() == [0, 0, 1, 1]
    raw = D.load_image_dataset(f"imagefolder:{tmp_path}")
    assert raw[0][0].shape == (3, 10, 14)
    pytest.importorskip("paradigms.data")
    data = D.load_ssl_data(f"imagefolder:{tmp_path}", n_train=3, image_size=8)
    assert data.train_x.shape == (3, 3, 8, 8) and data.test_x.shape == (4, 3, 8, 8)
    with pytest.raises(ValueError, match="GiB"):
        D.load_ssl_data(f"imagefolder:{tmp_path}", image_size=40_000)


def test_tinyimagenet_validation_annotations(tmp_path):
    from PIL import Image

    for wnid in ("n01", "n02"):
        d = tmp_path / "train" / wnid / "images"
        d.mkdir(parents=True)
        Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(d / "a.JPEG")
    (tmp_path / "val" / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "val" / "images" / "v0.JPEG")
    (tmp_path / "val" / "val_annotations.txt").write_text("v0.JPEG\tn02\t0\t0\t63\t63\n")
    val = D.load_image_dataset("tinyimagenet", root=tmp_path, split="test")
    x, y = val[0]
    assert len(val) == 1 and y == 1 and x.shape == (3, 64, 64)


def test_imagenet100_class_list_is_the_standard_hundred():
    assert len(D.IMAGENET100_CLASSES) == 100 == len(set(D.IMAGENET100_CLASSES))
    assert all(c.startswith("n") and len(c) == 9 for c in D.IMAGENET100_CLASSES)


def test_wrong_image_shapes_are_rejected():
    with pytest.raises(ValueError, match="channels"):
        D.ImageTensors(torch.zeros(2, 28, 28, 1, dtype=torch.uint8), torch.zeros(2).long(), 2, "x")
    with pytest.raises(ValueError, match="labels"):
        D.ImageTensors(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), torch.zeros(3).long(), 2, "x")
    with pytest.raises(TypeError, match="uint8"):
        D.check_image_batch(torch.zeros(2, 3, 4, 4, dtype=torch.int32))


def test_load_ssl_data_adapter_gives_float_images_and_batched_views():
    pytest.importorskip("paradigms.data")
    data = D.load_ssl_data("digits", seed=0, n_train=100, n_test=30, crop_size=6)
    assert data.train_x.shape == (100, 1, 8, 8) and data.test_x.shape == (30, 1, 8, 8)
    assert data.train_x.dtype == torch.float32
    assert 0 <= data.train_x.min() <= data.train_x.max() <= 1
    assert data.num_classes == 10
    a, b = data.views(data.train_x[:16], torch.Generator().manual_seed(0))
    assert a.shape == b.shape == (16, 1, 6, 6) and not torch.equal(a, b)
    with pytest.raises(ValueError, match="n_train"):
        D.load_ssl_data("digits", n_train=0)
