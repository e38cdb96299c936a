"""Tests for leafcount.data.folder: listing folders and reading every kind of image."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from leafcount.data import folder
from leafcount.data.folder import (
    IMAGE_SUFFIXES,
    list_images,
    read_image,
    read_image_size,
)
from leafcount.errors import ConfigError, EmptyFolderError, ImageReadError


def _save(path: Path, array: np.ndarray, **kwargs) -> Path:
    Image.fromarray(array).save(path, **kwargs)
    return path


def _rgb8(height: int = 6, width: int = 7, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims a size but whose pixel data is garbage."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    path.write_bytes(
        signature + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"garbage") + chunk(b"IEND", b"")
    )
    return path


# --- list_images -----------------------------------------------------------


def test_image_suffixes_cover_the_promised_formats():
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"} <= IMAGE_SUFFIXES


def test_list_images_sorts_naturally_and_skips_companions(tmp_path):
    for name in [
        "img10.png", "img2.JPG", "img1.tif", "b.jpeg", "c.BMP", "d.TIFF",
        "plant001_label.png", "plant001_fg.png", "x_overlay.png", ".hidden.png",
        ".plant001_label.png.partial", "notes.txt", "data.csv",
    ]:  # fmt: skip
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    names = [path.name for path in list_images(tmp_path)]
    assert names == ["b.jpeg", "c.BMP", "d.TIFF", "img1.tif", "img2.JPG", "img10.png"]


def test_list_images_returns_absolute_paths_in_the_folder(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    [path] = list_images(tmp_path)
    assert path.is_absolute() and path.parent == tmp_path


def test_list_images_missing_folder(tmp_path):
    with pytest.raises(EmptyFolderError, match="nowhere: not a folder"):
        list_images(tmp_path / "nowhere")


def test_list_images_file_is_not_a_folder(tmp_path):
    file = tmp_path / "a.png"
    file.write_bytes(b"x")
    with pytest.raises(EmptyFolderError, match="a.png: not a folder"):
        list_images(file)


def test_list_images_folder_without_images(tmp_path):
    (tmp_path / "plant001_label.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(EmptyFolderError, match=rf"{tmp_path.name}: no images \(.png, .jpg, .tif\)"):
        list_images(tmp_path)


def test_list_images_unlistable_folder(tmp_path, monkeypatch):
    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", refuse)
    with pytest.raises(EmptyFolderError, match=rf"{tmp_path.name}: cannot list the folder"):
        list_images(tmp_path)


# --- read_image: kinds of image ---------------------------------------------


def test_read_rgb_png_exact(tmp_path):
    pixels = _rgb8()
    image = read_image(_save(tmp_path / "a.png", pixels))
    assert image.dtype == np.float32 and image.shape == (6, 7, 3)
    np.testing.assert_allclose(image, pixels / 255.0, atol=1e-6)


def test_read_grayscale_png_gives_three_equal_channels(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    image = read_image(_save(tmp_path / "g.png", grey))
    assert image.shape == (3, 4, 3)
    for channel in range(3):
        np.testing.assert_allclose(image[..., channel], grey / 255.0, atol=1e-6)


def test_read_rgba_png_drops_alpha(tmp_path):
    rgba = np.dstack([_rgb8(), np.full((6, 7), 17, dtype=np.uint8)])
    image = read_image(_save(tmp_path / "rgba.png", rgba))
    np.testing.assert_allclose(image, rgba[..., :3] / 255.0, atol=1e-6)


def test_read_palette_png_gives_its_colours(tmp_path):
    img = Image.fromarray(np.array([[0, 1], [2, 1]], dtype=np.uint8))
    img.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    img.save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(image[0, 1], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(image[1, 0], [0.0, 0.0, 1.0])


def test_read_bilevel_and_grey_alpha_pngs(tmp_path):
    Image.fromarray(np.array([[True, False]])).save(tmp_path / "bits.png")
    np.testing.assert_array_equal(read_image(tmp_path / "bits.png")[0, :, 0], [1.0, 0.0])
    Image.new("LA", (2, 1), (51, 0)).save(tmp_path / "la.png")
    np.testing.assert_allclose(read_image(tmp_path / "la.png"), 0.2, atol=1e-6)


def test_read_16bit_png_scaled_by_65535(tmp_path):
    values = np.array([[0, 1000], [32768, 65535]], dtype=np.uint16)
    image = read_image(_save(tmp_path / "deep.png", values))
    np.testing.assert_allclose(image[..., 1], values / 65535.0, rtol=1e-6)


def test_read_jpeg_and_bmp(tmp_path):
    flat = np.full((16, 16, 3), (200, 100, 50), dtype=np.uint8)
    jpeg = read_image(_save(tmp_path / "a.jpg", flat, quality=95))
    np.testing.assert_allclose(jpeg, flat / 255.0, atol=0.03)
    bmp = read_image(_save(tmp_path / "a.bmp", flat))
    np.testing.assert_allclose(bmp, flat / 255.0, atol=1e-6)


def test_read_one_pixel_image(tmp_path):
    image = read_image(_save(tmp_path / "dot.png", np.array([[[255, 0, 51]]], dtype=np.uint8)))
    np.testing.assert_allclose(image, [[[1.0, 0.0, 0.2]]], atol=1e-6)


@pytest.mark.parametrize("name", ["with space.png", "blätter é 叶.png", "ünïcode dir/x.jpg"])
def test_read_names_with_spaces_and_non_ascii(tmp_path, name):
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    _save(path, _rgb8())
    assert read_image(path).shape == (6, 7, 3)
    assert read_image_size(path) == (6, 7)
    assert path in list_images(path.parent)


def test_format_comes_from_content_not_suffix(tmp_path):
    pixels = _rgb8()
    png_named_tif = tmp_path / "really_png.tif"
    png_named_tif.write_bytes((_save(tmp_path / "a.png", pixels)).read_bytes())
    tiff_named_png = tmp_path / "really_tiff.png"
    tifffile.imwrite(tiff_named_png, pixels)
    np.testing.assert_allclose(read_image(png_named_tif), pixels / 255.0, atol=1e-6)
    np.testing.assert_allclose(read_image(tiff_named_png), pixels / 255.0, atol=1e-6)


def test_jpeg_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = img.getexif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise when displayed
    img.save(tmp_path / "phone.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "phone.jpg").shape == (40, 20, 3)
    assert read_image_size(tmp_path / "phone.jpg") == (40, 20)


# --- read_image: TIFF ---------------------------------------------------------


def test_read_16bit_rgb_tiff(tmp_path):
    values = np.random.default_rng(1).integers(0, 65536, (5, 4, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "deep.tif", values, photometric="rgb")
    np.testing.assert_allclose(read_image(tmp_path / "deep.tif"), values / 65535.0, rtol=1e-6)


def test_read_16bit_grey_tiff(tmp_path):
    values = np.array([[0, 65535], [13107, 26214]], dtype=np.uint16)
    tifffile.imwrite(tmp_path / "grey.tiff", values)
    image = read_image(tmp_path / "grey.tiff")
    np.testing.assert_allclose(image[..., 2], [[0.0, 1.0], [0.2, 0.4]], atol=1e-6)


def test_read_float_tiff_is_clipped_and_nan_is_zero(tmp_path):
    values = np.array([[-0.5, 0.25], [2.0, np.nan]], dtype=np.float32)
    tifffile.imwrite(tmp_path / "f.tif", values)
    np.testing.assert_allclose(read_image(tmp_path / "f.tif")[..., 0], [[0.0, 0.25], [1.0, 0.0]])


def test_read_planar_rgba_tiff(tmp_path):
    rgba = _rgb8(4, 5)
    planar = np.concatenate([np.moveaxis(rgba, -1, 0), np.full((1, 4, 5), 255, np.uint8)])
    tifffile.imwrite(
        tmp_path / "planar.tif", planar, photometric="rgb", planarconfig="separate",
        extrasamples=["unassalpha"],
    )  # fmt: skip
    np.testing.assert_allclose(read_image(tmp_path / "planar.tif"), rgba / 255.0, atol=1e-6)


def test_read_palette_tiff(tmp_path):
    img = Image.fromarray(np.array([[0, 1]], dtype=np.uint8))
    img.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    img.save(tmp_path / "p.tif")
    np.testing.assert_allclose(read_image(tmp_path / "p.tif")[0], [[0, 0, 0], [0, 1, 0]])


def test_read_min_is_white_tiff(tmp_path):
    tifffile.imwrite(tmp_path / "w.tif", np.array([[0, 255]], np.uint8), photometric="miniswhite")
    np.testing.assert_allclose(read_image(tmp_path / "w.tif")[0, :, 0], [1.0, 0.0])


def test_read_lzw_tiff_without_imagecodecs(tmp_path):
    pixels = _rgb8(9, 11)
    _save(tmp_path / "lzw.tif", pixels, compression="tiff_lzw")
    np.testing.assert_allclose(read_image(tmp_path / "lzw.tif"), pixels / 255.0, atol=1e-6)


def test_pillow_fallback_takes_32_bit_integers_as_16_bit(tmp_path, monkeypatch):
    def missing_codec(*args, **kwargs):
        raise ValueError("<COMPRESSION.LZW: 5> requires the 'imagecodecs' package")

    Image.fromarray(np.array([[0, 70000], [-5, 13107]], np.int32)).save(tmp_path / "i32.tif")
    monkeypatch.setattr(tifffile, "TiffFile", missing_codec)
    np.testing.assert_allclose(read_image(tmp_path / "i32.tif")[..., 0], [[0, 1], [0, 0.2]])


# --- read_image: every failure names the file ---------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="gone.png: file not found"):
        read_image(tmp_path / "gone.png")


def test_folder_instead_of_file(tmp_path):
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageReadError, match="dir.png: is a folder"):
        read_image(tmp_path / "dir.png")


def test_unreadable_file(tmp_path, monkeypatch):
    path = _save(tmp_path / "secret.png", _rgb8())
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: simulate the refusal

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(folder, "open", refuse, raising=False)
    try:
        with pytest.raises(ImageReadError, match="secret.png: permission denied"):
            read_image(path)
    finally:
        path.chmod(0o644)


def test_symbolic_link_loop_is_named(tmp_path):
    loop = tmp_path / "loop.png"
    loop.symlink_to(tmp_path / "loop.png")
    with pytest.raises(ImageReadError, match=r"loop.png: symbolic link loop \(the link leads back to itself\)"):
        read_image(loop)


def test_other_os_error_on_open(tmp_path, monkeypatch):
    path = _save(tmp_path / "disk.png", _rgb8())

    def fail(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(folder, "open", fail, raising=False)
    with pytest.raises(ImageReadError, match=r"disk.png: cannot open the file \(Input/output error\)"):
        read_image(path)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"empty.png: empty file \(0 bytes\)"):
        read_image(tmp_path / "empty.png")


def test_truncated_png(tmp_path):
    data = io.BytesIO()
    Image.fromarray(_rgb8(64, 64)).save(data, format="PNG")
    (tmp_path / "cut.png").write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="cut.png: corrupt or truncated image") as info:
        read_image(tmp_path / "cut.png")
    assert isinstance(info.value.__cause__, OSError)


def test_truncated_jpeg(tmp_path):
    data = io.BytesIO()
    Image.fromarray(_rgb8(64, 64)).save(data, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="cut.jpg: corrupt or truncated image"):
        read_image(tmp_path / "cut.jpg")


def test_corrupt_jpeg_header(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 4)
    with pytest.raises(ImageReadError, match="bad.jpg: not a readable image"):
        read_image(tmp_path / "bad.jpg")


def test_text_file_is_not_an_image(tmp_path):
    (tmp_path / "notes.png").write_text("these are my notes")
    with pytest.raises(ImageReadError, match="notes.png: not a readable image"):
        read_image(tmp_path / "notes.png")


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # from Pillow's second try
def test_corrupt_tiff(tmp_path):
    (tmp_path / "bad.tif").write_bytes(b"II*\x00" + b"\xff" * 40)
    with pytest.raises(ImageReadError, match="bad.tif: corrupt or unsupported TIFF"):
        read_image(tmp_path / "bad.tif")


def test_zero_size_tiff(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tifffile: "nonconformant TIFF"
        tifffile.imwrite(tmp_path / "nothing.tif", np.zeros((0, 5), np.uint8))
    with pytest.raises(ImageReadError, match="nothing.tif: image has no pixels"):
        read_image(tmp_path / "nothing.tif")


def test_tiff_with_five_channels(tmp_path):
    tifffile.imwrite(
        tmp_path / "multi.tif", np.zeros((4, 5, 5), np.uint8), photometric="minisblack",
        planarconfig="contig",
    )  # fmt: skip
    with pytest.raises(ImageReadError, match="multi.tif: expected a grey or colour image"):
        read_image(tmp_path / "multi.tif")


def test_complex_tiff_is_unsupported(tmp_path):
    tifffile.imwrite(tmp_path / "complex.tif", np.zeros((4, 5), np.complex64))
    with pytest.raises(ImageReadError, match="complex.tif: unsupported pixel type complex64"):
        read_image(tmp_path / "complex.tif")


def test_out_of_memory_is_reported(tmp_path, monkeypatch):
    def exhaust(self, *args, **kwargs):
        raise MemoryError

    png = _save(tmp_path / "huge.png", _rgb8())
    tif = tmp_path / "huge.tif"
    tifffile.imwrite(tif, _rgb8())
    monkeypatch.setattr(Image.Image, "load", exhaust)
    monkeypatch.setattr(tifffile.TiffPage, "asarray", exhaust)
    with pytest.raises(ImageReadError, match="huge.png: not enough memory"):
        read_image(png)
    with pytest.raises(ImageReadError, match="huge.tif: not enough memory"):
        read_image(tif)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = _save(tmp_path / "bomb.png", _rgb8(10, 10))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(ImageReadError, match="bomb.png: image too large"):
        read_image(path)


def test_camera_sized_image_is_not_a_decompression_bomb(tmp_path):
    path = _png_header_only(tmp_path / "camera.png", width=12000, height=9000)
    assert read_image_size(path) == (9000, 12000)
    with pytest.raises(ImageReadError, match="camera.png: corrupt or truncated image"):
        read_image(path)


# --- read_image: large images ---------------------------------------------------


def test_large_png_is_downscaled_under_max_pixels(tmp_path):
    flat = np.full((80, 100, 3), (10, 200, 30), dtype=np.uint8)
    image = read_image(_save(tmp_path / "big.png", flat), max_pixels=1000)
    assert image.shape == (26, 33, 3)  # factor ceil(sqrt(8000 / 1000)) = 3
    assert image.shape[0] * image.shape[1] <= 1000
    np.testing.assert_allclose(image, np.broadcast_to(flat[0, 0] / 255.0, image.shape), atol=1e-6)


def test_large_jpeg_is_downscaled_under_max_pixels(tmp_path):
    flat = np.full((320, 400, 3), (10, 200, 30), dtype=np.uint8)
    image = read_image(_save(tmp_path / "big.jpg", flat, quality=95), max_pixels=5000)
    assert image.shape == (53, 66, 3)  # factor 6
    np.testing.assert_allclose(image.mean(axis=(0, 1)), flat[0, 0] / 255.0, atol=0.03)


def test_large_16bit_png_is_downscaled_with_its_values(tmp_path):
    ramp = np.repeat(np.arange(0, 60000, 1000, dtype=np.uint16)[None, :], 40, axis=0)
    image = read_image(_save(tmp_path / "deep.png", ramp), max_pixels=600)
    assert image.shape == (20, 30, 3)
    np.testing.assert_allclose(image[0, :, 0], (np.arange(30) * 2000 + 500) / 65535, atol=1e-3)


def test_large_tiff_is_downscaled_by_block_mean(tmp_path):
    values = np.zeros((8, 8), dtype=np.uint16)
    values[:4, :4] = 65535
    tifffile.imwrite(tmp_path / "big.tif", values)
    image = read_image(tmp_path / "big.tif", max_pixels=4)
    np.testing.assert_allclose(image[..., 0], [[1.0, 0.0], [0.0, 0.0]])


def test_max_pixels_none_keeps_full_size(tmp_path):
    path = _save(tmp_path / "a.png", _rgb8(30, 40))
    assert read_image(path, max_pixels=None).shape == (30, 40, 3)
    assert read_image(path, max_pixels=1200).shape == (30, 40, 3)


def test_max_pixels_must_be_positive(tmp_path):
    with pytest.raises(ConfigError, match="max_pixels must be at least 1"):
        read_image(_save(tmp_path / "a.png", _rgb8()), max_pixels=0)


# --- read_image_size ----------------------------------------------------------------


def test_read_image_size_png_and_tiff(tmp_path):
    assert read_image_size(_save(tmp_path / "a.png", _rgb8(6, 7))) == (6, 7)
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((3, 9), np.uint16))
    assert read_image_size(tmp_path / "a.tif") == (3, 9)


def test_read_image_size_errors_name_the_file(tmp_path):
    with pytest.raises(ImageReadError, match="gone.png: file not found"):
        read_image_size(tmp_path / "gone.png")
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(ImageReadError, match="notes.jpg: not a readable image"):
        read_image_size(tmp_path / "notes.jpg")
    (tmp_path / "bad.tif").write_bytes(b"MM\x00*" + b"\x00" * 20)
    with pytest.raises(ImageReadError, match="bad.tif: corrupt or truncated image"):
        read_image_size(tmp_path / "bad.tif")


def test_an_rgb_file_is_grey_when_its_channels_agree_within_jpeg_rounding(tmp_path):
    rng = np.random.default_rng(4)
    level = rng.integers(20, 230, (64, 80), dtype=np.uint8)
    grey = np.stack([level, level + rng.integers(0, 2, level.shape, dtype=np.uint8), level], axis=2)
    assert folder.read_photo(_save(tmp_path / "grey.png", grey)).grey
    one_green_pixel = grey.copy()
    one_green_pixel[3, 5] = (40, 200, 40)  # off the coarse grid of every 8th row and column
    assert not folder.read_photo(_save(tmp_path / "green.png", one_green_pixel)).grey
    assert not folder.read_photo(_save(tmp_path / "colour.png", _rgb8(64, 80))).grey
