"""Image datasets for self-supervised training, read from local files only (no downloads).

One entry point, :func:`load_image_dataset`. Data that fits in memory comes back as
:class:`ImageTensors` (uint8 images [N, C, H, W] and int64 labels [N]) so a training loop can move
it to the GPU once and augment there (:mod:`paradigms.data.image_augment`); image folders
(TinyImageNet, ImageNet-100, any ``class/xxx.jpg`` tree) come back as an
:class:`ImageFolderDataset` for a ``DataLoader``. :func:`load_ssl_data` makes a data set of them
for training.

Names: ``fashion-mnist``, ``cifar10``, ``cifar100``, ``digits``, ``fake``, ``tinyimagenet``,
``imagenet100`` and ``imagefolder:PATH``.

Where the files go:
- Fashion-MNIST: Debian's ``dataset-fashion-mnist`` package installs
  ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` into ``/usr/share/datasets/fashion-mnist``
  (``apt-get install dataset-fashion-mnist``); ``root`` overrides the folder; plain (un-gzipped)
  files are read too.
- CIFAR-10/100: ``root`` must hold the extracted python version, ``root/cifar-10-batches-py`` or
  ``root/cifar-100-python`` (from ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``).
- TinyImageNet: ``root`` is the extracted ``tiny-imagenet-200`` folder (``train/<wnid>/images``,
  ``val/images`` + ``val/val_annotations.txt``).
- ImageNet-100: ``root`` holds ImageNet's ``train/<wnid>/`` and ``val/<wnid>/`` folders (all 1000
  classes or only the 100 of :data:`IMAGENET100_CLASSES`).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from paradigms.data.image_augment import AugmentConfig, augment, augmentation_recipe, to_float
from paradigms.data.types import SSLData, check_image_batch

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
IMAGE_DATASETS = (
    "fashion-mnist",
    "cifar10",
    "cifar100",
    "digits",
    "fake",
    "tinyimagenet",
    "imagenet100",
    "imagefolder:PATH",
)
SPLITS = ("train", "test")
MAX_IN_MEMORY_BYTES = 8 * 2**30  # load_ssl_data refuses image folders larger than this as float32
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")

# The 100 ImageNet classes (WordNet ids) of ImageNet-100 as defined by CMC (Tian, Krishnan & Isola,
# "Contrastive Multiview Coding", 2019) and used by solo-learn and most SSL papers since.
IMAGENET100_CLASSES = tuple(
    """
n02869837 n01749939 n02488291 n02107142 n13037406 n02091831 n04517823 n04589890 n03062245 n01773797
n01735189 n07831146 n07753275 n03085013 n04485082 n02105505 n01983481 n02788148 n03530642 n04435653
n02086910 n02859443 n13040303 n03594734 n02085620 n02099849 n01558993 n04493381 n02109047 n04111531
n02877765 n04429376 n02009229 n01978455 n02106550 n01820546 n01692333 n07714571 n02974003 n02114855
n03785016 n03764736 n03775546 n02087046 n07836838 n04099969 n04592741 n03891251 n02701002 n03379051
n02259212 n07715103 n03947888 n04026417 n02326432 n03637318 n01980166 n02113799 n02086240 n03903868
n02483362 n04127249 n02089973 n03017168 n02093428 n02804414 n02396427 n04418357 n02172182 n01729322
n02113978 n03787032 n02089867 n02119022 n03777754 n04238763 n02231487 n03032252 n02138441 n02104029
n03837869 n03494278 n04136333 n03794056 n03492542 n02018207 n04067472 n03930630 n03584829 n02123045
n04229816 n02100583 n03642806 n04336792 n03259280 n02116738 n02108089 n03424325 n01855672 n02090622
""".split()
)

# IDX type codes (LeCun's format): code -> (numpy dtype, big-endian).
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


@dataclass(frozen=True)
class ImageTensors:
    """An in-memory labelled image set.

    Attributes:
        images: uint8 tensor [N, C, H, W] (values 0–255).
        labels: int64 tensor [N] with values in ``0 … num_classes − 1``.
        num_classes: number of classes.
        name: the dataset name it was loaded under.
    """

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    name: str

    def __post_init__(self) -> None:
        check_image_batch(self.images, f"{self.name} images")
        if self.labels.ndim != 1 or self.labels.shape[0] != self.images.shape[0]:
            raise ValueError(
                f"{self.name}: labels must have shape [{self.images.shape[0]}], "
                f"got {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def to(self, device: str | torch.device) -> ImageTensors:
        """The same data on ``device`` (e.g. the GPU, once, before training)."""
        return ImageTensors(
            self.images.to(device), self.labels.to(device), self.num_classes, self.name
        )


# ----------------------------------------------------------------------------- IDX (Fashion-MNIST)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``…-ubyte`` or ``…-ubyte.gz``) into a numpy array.

    Layout: two zero bytes, a type code byte, the number of dimensions d, then d big-endian uint32
    sizes, then the data in C order. Raises ``ValueError`` for a wrong magic number, an unknown type
    code or a data length that does not match the header (a truncated file).
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: corrupt gzip stream ({err})") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (expected two zero bytes at the start)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header says shape {shape} ({expected} data bytes) but the file holds "
            f"{len(raw) - header}; the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _load_fashion_mnist(root: str | os.PathLike | None, split: str) -> ImageTensors:
    folder = Path(root) if root is not None else FASHION_MNIST_DIR
    prefix = "train" if split == "train" else "t10k"
    img_path = _find_idx(folder, f"{prefix}-images-idx3-ubyte")
    lab_path = _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
    if img_path is None or lab_path is None:
        raise ValueError(
            f"Fashion-MNIST not found in {folder}: expected {prefix}-images-idx3-ubyte[.gz] and "
            f"{prefix}-labels-idx1-ubyte[.gz] there. Install Debian's package "
            "(`apt-get install dataset-fashion-mnist`, files go to "
            f"{FASHION_MNIST_DIR}) or pass root=FOLDER (--data-root on the command line) "
            "holding those files"
        )
    images = read_idx(img_path)
    labels = read_idx(lab_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"Fashion-MNIST files disagree: images {images.shape} (expected [N, 28, 28]), "
            f"labels {labels.shape} (expected [N])"
        )
    return ImageTensors(
        torch.from_numpy(images).unsqueeze(1),
        torch.from_numpy(labels.astype(np.int64)),
        10,
        "fashion-mnist",
    )


# ----------------------------------------------------------------------------- CIFAR


def _load_cifar(name: str, root: str | os.PathLike | None, split: str) -> ImageTensors:
    folder_name = "cifar-10-batches-py" if name == "cifar10" else "cifar-100-python"
    archive = "cifar-10-python.tar.gz" if name == "cifar10" else "cifar-100-python.tar.gz"
    if root is None:
        raise ValueError(
            f"{name} needs root=FOLDER (--data-root on the command line): a folder holding "
            f"{folder_name}/ (extract {archive} there); nothing is downloaded"
        )
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    try:
        ds = cls(str(root), train=(split == "train"), download=False)
    except RuntimeError as err:
        raise ValueError(
            f"{name} not found or corrupt under {root}: expected {Path(root) / folder_name}/ "
            f"(extract {archive} into {root}); torchvision said: {err}"
        ) from err
    images = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
    labels = torch.as_tensor(ds.targets, dtype=torch.int64)
    return ImageTensors(images, labels, 10 if name == "cifar10" else 100, name)


# ----------------------------------------------------------------------------- small test sets


def _load_digits(split: str, seed: int) -> ImageTensors:
    """scikit-learn's 8×8 digits (1797 images, 0–16 grey levels scaled to 0–255).

    Split: a fixed seeded permutation, the first 80 % is ``train`` and the rest ``test``.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    order = np.random.default_rng(seed).permutation(images.shape[0])
    cut = round(0.8 * images.shape[0])
    idx = order[:cut] if split == "train" else order[cut:]
    return ImageTensors(
        torch.from_numpy(images[idx]).unsqueeze(1),
        torch.from_numpy(bunch.target[idx].astype(np.int64)),
        10,
        "digits",
    )


def _load_fake(
    split: str, size: int, image_size: tuple[int, int, int], num_classes: int, seed: int
) -> ImageTensors:
    """torchvision ``FakeData``: random images and labels, deterministic for a given ``seed``."""
    from torchvision import datasets, transforms

    offset = seed * 1_000_003 + (0 if split == "train" else 500_009)
    ds = datasets.FakeData(
        size=size,
        image_size=image_size,
        num_classes=num_classes,
        transform=transforms.PILToTensor(),
        random_offset=offset,
    )
    pairs = [ds[i] for i in range(size)]
    images = torch.stack([p[0] for p in pairs])
    labels = torch.as_tensor([int(p[1]) for p in pairs], dtype=torch.int64)
    return ImageTensors(images, labels, num_classes, "fake")


# ----------------------------------------------------------------------------- image folders


class ImageFolderDataset(Dataset):
    """Images in ``folder/<class>/…/*.jpg`` (any depth below the class folder).

    ``__getitem__`` returns ``(uint8 tensor [3, H, W], int label)``; RGB always (grey images are
    converted). With ``image_size`` every image is resized to that square size (bilinear) so that
    batches stack. ``classes`` restricts and orders the classes (label = index in ``classes``).
    ``samples`` may be given directly as ``(path, label)`` pairs (TinyImageNet's flat val folder).
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        classes: tuple[str, ...] | None = None,
        image_size: int | None = None,
        samples: list[tuple[Path, int]] | None = None,
    ) -> None:
        self.folder = Path(folder)
        if image_size is not None and (not isinstance(image_size, int) or image_size < 2):
            raise ValueError(f"image_size must be an integer ≥ 2 or None, got {image_size!r}")
        self.image_size = image_size
        if not self.folder.is_dir():
            raise ValueError(
                f"image folder {self.folder} does not exist; expected {self.folder}/<class>/*.jpg"
            )
        if classes is None:
            classes = tuple(sorted(p.name for p in self.folder.iterdir() if p.is_dir()))
        self.classes = tuple(classes)
        if samples is None:
            missing = [c for c in self.classes if not (self.folder / c).is_dir()]
            if missing:
                raise ValueError(
                    f"{self.folder} lacks {len(missing)} class folder(s), e.g. {missing[:3]}; "
                    f"expected {self.folder}/<class>/*.jpg for every class"
                )
            samples = []
            for label, cls in enumerate(self.classes):
                for dirpath, _, files in sorted(os.walk(self.folder / cls, followlinks=True)):
                    samples.extend(
                        (Path(dirpath) / f, label)
                        for f in sorted(files)
                        if f.lower().endswith(IMAGE_SUFFIXES)
                    )
        if not samples:
            raise ValueError(
                f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {self.folder}; "
                f"expected {self.folder}/<class>/*.jpg"
            )
        self.samples = samples
        self.num_classes = len(self.classes)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path, label = self.samples[index]
        with Image.open(path) as img:
            img = img.convert("RGB")
            if self.image_size is not None and img.size != (self.image_size, self.image_size):
                img = img.resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
        return torch.from_numpy(arr.copy()).permute(2, 0, 1), label

    def to_tensors(self, name: str = "imagefolder") -> ImageTensors:
        """Read every image into memory (needs ``image_size`` so that the images stack)."""
        if self.image_size is None:
            raise ValueError("to_tensors needs image_size set so that all images have one shape")
        pairs = [self[i] for i in range(len(self))]
        images = torch.stack([p[0] for p in pairs])
        labels = torch.as_tensor([p[1] for p in pairs], dtype=torch.int64)
        return ImageTensors(images, labels, self.num_classes, name)


def _split_folder(root: Path, split: str) -> Path:
    names = ("train",) if split == "train" else ("val", "test")
    for n in names:
        if (root / n).is_dir():
            return root / n
    raise ValueError(
        f"{root} has no {'/'.join(names)} folder for split {split!r}; expected "
        f"{root}/{names[0]}/<class>/*.jpg"
    )


def _load_tinyimagenet(root: Path, split: str, image_size: int | None) -> ImageFolderDataset:
    train = root / "train"
    if not train.is_dir():
        raise ValueError(
            f"TinyImageNet not found: expected {train}/<wnid>/images/*.JPEG; pass root= "
            "(--data-root) the extracted tiny-imagenet-200 folder"
        )
    classes = tuple(sorted(p.name for p in train.iterdir() if p.is_dir()))
    if split == "train":
        return ImageFolderDataset(train, classes=classes, image_size=image_size)
    ann = root / "val" / "val_annotations.txt"
    if not ann.is_file():
        raise ValueError(f"TinyImageNet validation labels missing: expected {ann}")
    index = {c: i for i, c in enumerate(classes)}
    samples = []
    for line in ann.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1] in index:
            samples.append((root / "val" / "images" / parts[0], index[parts[1]]))
    return ImageFolderDataset(root / "val", classes=classes, image_size=image_size, samples=samples)


# ----------------------------------------------------------------------------- entry point


def load_image_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    split: str = "train",
    *,
    seed: int = 0,
    size: int = 512,
    image_size: int | tuple[int, int, int] | None = None,
    num_classes: int = 10,
) -> ImageTensors | ImageFolderDataset:
    """Load an image dataset by name from local files.

    Args:
        name: one of :data:`IMAGE_DATASETS` (``imagefolder:PATH`` names the folder inline).
        root: folder holding the files (see the module docstring); Fashion-MNIST defaults to
            ``/usr/share/datasets/fashion-mnist``.
        split: ``"train"`` or ``"test"`` (``test`` reads ``val/`` for image folders).
        seed: fixes the digits split and the FakeData images.
        size: FakeData only: number of images.
        image_size: FakeData: (C, H, W) or H (3 channels, square; default (3, 32, 32)); image
            folders: resize every image to this square size (default: ImageNet-100 224, TinyImageNet
            64, ``imagefolder`` keeps sizes as they are).
        num_classes: FakeData only.

    Returns:
        :class:`ImageTensors` (uint8 [N, C, H, W] + labels) for in-memory sets, or an
        :class:`ImageFolderDataset` for ``tinyimagenet``, ``imagenet100`` and ``imagefolder:PATH``.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    key = name.lower()
    if key.startswith("imagefolder:"):
        path = Path(name.split(":", 1)[1])
        if not str(path) or not path.is_dir():
            raise ValueError(
                f"imagefolder path {str(path)!r} is not a folder; expected imagefolder:PATH with "
                "PATH/train/<class>/*.jpg (and PATH/val/…) or PATH/<class>/*.jpg"
            )
        folder = path
        if (path / "train").is_dir():
            folder = _split_folder(path, split)
        return ImageFolderDataset(folder, image_size=_square(image_size, None))
    if key == "fashion-mnist":
        return _load_fashion_mnist(root, split)
    if key in ("cifar10", "cifar100"):
        return _load_cifar(key, root, split)
    if key == "digits":
        return _load_digits(split, seed)
    if key == "fake":
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer ≥ 2, got {num_classes!r}")
        shape = _fake_shape(image_size)
        return _load_fake(split, size, shape, num_classes, seed)
    if key in ("tinyimagenet", "imagenet100"):
        if root is None:
            raise ValueError(
                f"{key} needs root=FOLDER (--data-root on the command line); "
                + (
                    "the extracted tiny-imagenet-200 folder"
                    if key == "tinyimagenet"
                    else "a folder holding ImageNet's train/<wnid>/ and val/<wnid>/"
                )
            )
        root = Path(root)
        if key == "tinyimagenet":
            return _load_tinyimagenet(root, split, _square(image_size, 64))
        return ImageFolderDataset(
            _split_folder(root, split),
            classes=IMAGENET100_CLASSES,
            image_size=_square(image_size, 224),
        )
    raise ValueError(f"unknown image dataset {name!r}; expected one of {', '.join(IMAGE_DATASETS)}")


def _square(image_size: object, default: int | None) -> int | None:
    if image_size is None:
        return default
    if isinstance(image_size, bool) or not isinstance(image_size, int):
        raise ValueError(f"image_size for image folders must be one integer, got {image_size!r}")
    return image_size


def _fake_shape(image_size: object) -> tuple[int, int, int]:
    if image_size is None:
        return (3, 32, 32)
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        shape: tuple = (3, image_size, image_size)
    elif isinstance(image_size, tuple | list) and len(image_size) == 3:
        shape = tuple(image_size)
    else:
        raise ValueError(f"image_size must be H or (C, H, W), got {image_size!r}")
    if shape[0] not in (1, 3) or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 2 for s in shape[1:]
    ):
        raise ValueError(f"image_size must be (C in {{1, 3}}, H ≥ 2, W ≥ 2), got {image_size!r}")
    return shape  # type: ignore[return-value]


# ----------------------------------------------------------------------------- training adapter


@dataclass(frozen=True)
class ImageViewAugmentation:
    """``augment(x, generator, rows)`` for :class:`paradigms.data.types.SSLData`: one batched
    random view (of ``rows`` only, when given; see :func:`paradigms.data.image_augment.augment`)."""

    config: AugmentConfig

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator, rows: slice | None = None
    ) -> torch.Tensor:
        return augment(x, self.config, generator, rows)


def load_ssl_data(
    name: str,
    *,
    seed: int = 0,
    root: str | os.PathLike | None = None,
    recipe: str = "simclr",
    crop_size: int | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    image_size: int | None = None,
    blur: bool | None = None,
    size: int | None = None,
) -> SSLData:
    """An image data set as :class:`paradigms.data.types.SSLData` (the training loop's data type).

    Images are float32 in [0, 1], [N, C, H, W]; ``augment`` / ``augment_b`` are the two views of
    the named augmentation recipe (:func:`paradigms.data.image_augment.augmentation_recipe`;
    ``augment_b`` is None when both views share one configuration) with output ``crop_size``
    (default: the image size).
    ``n_train`` / ``n_test`` keep a seeded random subset; ``size`` is FakeData's number of images
    per split (default 512). Image folders are read into memory at
    ``image_size`` (default 64): meant for small folders; big ones need a ``DataLoader`` over
    :class:`ImageFolderDataset`.
    """
    parts = []
    for split, limit in (("train", n_train), ("test", n_test)):
        ds = load_image_dataset(
            name,
            root,
            split,
            seed=seed,
            image_size=image_size if image_size is not None or ":" not in name else 64,
            **({"size": size} if size is not None else {}),
        )
        keep = None
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"n_{split} must be a positive integer, got {limit!r}")
            gen = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
            keep = torch.randperm(len(ds), generator=gen)[: min(limit, len(ds))]
        if isinstance(ds, ImageFolderDataset):
            if keep is not None:
                ds.samples = [ds.samples[i] for i in keep.tolist()]
            side = ds.image_size or 0
            need = len(ds) * 3 * side * side * 4  # float32 in memory
            if need > MAX_IN_MEMORY_BYTES:
                raise ValueError(
                    f"{name} {split}: {len(ds)} images of {side}×{side} need "
                    f"{need / 2**30:.1f} GiB as float32 tensors (limit "
                    f"{MAX_IN_MEMORY_BYTES / 2**30:.0f} GiB); pass n_{split}=… or read "
                    "ImageFolderDataset through a DataLoader"
                )
            ds = ds.to_tensors(name)
        elif keep is not None:
            ds = ImageTensors(ds.images[keep], ds.labels[keep], ds.num_classes, ds.name)
        parts.append(ds)
    train, test = parts
    size = crop_size if crop_size is not None else int(train.images.shape[-1])
    view_a, view_b = augmentation_recipe(recipe, size, blur=blur)
    return SSLData(
        name=name,
        train_x=to_float(train.images),
        train_y=train.labels,
        test_x=to_float(test.images),
        test_y=test.labels,
        num_classes=train.num_classes,
        augment=ImageViewAugmentation(view_a),
        augment_b=None if view_b == view_a else ImageViewAugmentation(view_b),
    )
