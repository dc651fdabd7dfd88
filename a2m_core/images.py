"""Paintings as the engine reads them: any input (path, bytes, PIL image, array) to RGB
as a viewer sees it, refused in one line when missing, corrupt or too large, and a content
key that names an image by its bytes."""
from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from .errors import BadInputError

# A path, a decoded image, pixels, or the bytes of an image file (read once by a caller
# that must not look the path up again, e.g. the OSC bridge after its confinement check).
ImageInput = Union[str, Path, Image.Image, np.ndarray, bytes]

# Paintings bigger than this are refused rather than decoded (a 2 GB bitmap would stall
# the engine): ~ 16k x 16k.
MAX_IMAGE_PIXELS = 256_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")


def load_image(image: ImageInput) -> Image.Image:
    """A path, PIL image or HxWxC / HxW array -> RGB PIL image.

    Raises:
        BadInputError: missing file, not an image, corrupt, or too large.
    """
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            if not np.all(np.isfinite(arr)):
                raise BadInputError("image array contains NaN or infinite values")
            scale = 255.0 if arr.size and float(arr.max()) <= 1.0 else 1.0
            arr = np.clip(arr * scale, 0, 255).astype(np.uint8)
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
            raise BadInputError(f"image array must be HxW or HxWx(1|3|4), got shape {arr.shape}")
        return Image.fromarray(arr.squeeze(-1) if arr.ndim == 3 and arr.shape[2] == 1 else arr
                               ).convert("RGB")
    if isinstance(image, bytes):
        path, source = Path("(image data)"), io.BytesIO(image)
    else:
        path = Path(image)
        if not path.is_file():
            raise BadInputError(f"image not found: {path}")
        source = path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise BadInputError(
                        f"image {path.name} is too large ({img.width}x{img.height}); "
                        f"scale it below {MAX_IMAGE_PIXELS // 1_000_000} megapixels"
                    )
                img.draft("RGB", (1024, 1024))  # JPEG: decode at reduced size, it is cheap
                return as_seen(img)
    except BadInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise BadInputError(f"image {path.name} is too large to decode safely: {err}") from err
    except Exception as err:  # noqa: BLE001 - PIL raises many types for corrupt files
        raise BadInputError(f"cannot read {path}: not a readable image ({err})") from err


def as_seen(img: Image.Image) -> Image.Image:
    """RGB as a viewer sees the file: EXIF orientation applied (phone photos are stored
    sideways), and 16-bit or 32-bit greyscale scaled to 8 bits rather than clipped (PIL's
    plain ``convert`` would turn a 16-bit PNG almost white)."""
    from PIL import ImageOps

    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or (img.mode == "I" and arr.max() > 255) \
            else 255.0 if img.mode == "I" else max(float(arr.max()), 1e-12)
        arr = np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(arr).convert("RGB")
    return img.convert("RGB")


def image_key(image: ImageInput) -> str:
    """A content key for an image (path, bytes, PIL image or array): sha256 of its bytes."""
    h = hashlib.sha256()
    if isinstance(image, Image.Image):
        h.update(f"{image.mode}{image.size}".encode())
        h.update(image.tobytes())
    elif isinstance(image, np.ndarray):
        h.update(f"{image.dtype}{image.shape}".encode())
        h.update(np.ascontiguousarray(image).tobytes())
    elif isinstance(image, bytes):
        h.update(image)  # the same key as the file these bytes were read from
    else:
        path = Path(image)
        if not path.is_file():
            raise BadInputError(f"image not found: {path}")
        h.update(path.read_bytes())
    return "img:" + h.hexdigest()
