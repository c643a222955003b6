"""Hostile quality model files (issue 19, medium): a zip bomb is refused from its declared sizes
before anything is inflated, and a meta.json of the wrong shape is a clear error naming the file,
through `gristmill quality info` and through a recipe's `quality_score` step under `gristmill run`."""
import io
import json
import random
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.quality.model import ModelFileError, QualityModel

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A real fast model trained by the CLI: prose against keyboard mash."""
    d = tmp_path_factory.mktemp("qmodel")
    rng = random.Random(0)
    write_jsonl(d / "pos.jsonl", stdlib_docs(60, 20))
    write_jsonl(d / "neg.jsonl", [{"id": f"n{i}", "text": "".join(rng.choice("qwxzjk!$ 0123") for _ in range(200))}
                                  for i in range(60)])
    r = cli("quality", "train", "--pos", d / "pos.jsonl", "--neg", d / "neg.jsonl", "-o", d / "good.bin")
    assert r.exit_code == 0, r.output
    return d / "good.bin"


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in files.items():
            z.writestr(n, b)
    return path


def deflate_bomb(path: Path, meta: bytes, size: int = 3 << 30) -> Path:
    """A real zip whose arrays.npz member is ``size`` zero bytes deflated to a few MB (correct sizes
    and CRC). Written by hand: the deflate stream is one full-flushed block of 16 MiB of zeros
    repeated (a full flush resets the window, so the blocks are identical), which takes a moment
    instead of deflating 3 GiB."""
    chunk = 1 << 24
    assert size % chunk == 0 and size < 1 << 32  # no zip64 needed
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block
    n = size // chunk
    crc = 0
    zeros = bytes(chunk)
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    body = block * n + end
    assert zlib.decompressobj(-15).decompress(body[:len(block) * 2], 1 << 20) == bytes(1 << 20)

    out = io.BytesIO()
    central = []
    for name, data, method, csize, usize, ccrc in (("meta.json", meta, 0, len(meta), len(meta), zlib.crc32(meta)),
                                                    ("arrays.npz", body, 8, len(body), size, crc)):
        off = out.tell()
        nb = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, ccrc, csize, usize, len(nb), 0) + nb)
        out.write(data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, ccrc, csize, usize,
                                   len(nb), 0, 0, 0, 0, 0, off) + nb)
    cd_off = out.tell()
    cd = b"".join(central)
    out.write(cd)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 2, 2, len(cd), cd_off, 0))
    path.write_bytes(out.getvalue())
    return path


def assert_refused(model: Path, *needles: str) -> None:
    with pytest.raises(ModelFileError) as e:
        QualityModel.load(model)
    msg = str(e.value)
    assert str(model) in msg and all(n in msg for n in needles), msg
    r = cli("quality", "info", model)
    assert r.exit_code != 0 and str(model) in r.output and "Traceback" not in r.output, r.output


def run_recipe_with(model: Path, tmp: Path):
    write_jsonl(tmp / "docs.jsonl", stdlib_docs(30, 20))
    (tmp / "r.yaml").write_text(yaml.safe_dump({
        "inputs": [{"paths": [str(tmp / "docs.jsonl")], "id_field": "id"}],
        "steps": [{"quality_score": {"model": str(model)}}],
        "output": {"path": str(tmp / "out")}}))
    return cli("run", tmp / "r.yaml", "--workers", "1", "--no-progress")


def test_zip_bomb_is_refused_before_inflating(good, tmp_path):
    meta = members(good)["meta.json"]
    bomb = deflate_bomb(tmp_path / "bomb.bin", meta)
    assert bomb.stat().st_size < 8 << 20
    with zipfile.ZipFile(bomb) as z:
        assert z.getinfo("arrays.npz").file_size == 3 << 30  # a real zip declaring its real size
    assert_refused(bomb, "arrays.npz", "3,221,225,472", "refused")
    r = run_recipe_with(bomb, tmp_path)
    assert r.exit_code != 0 and str(bomb) in r.output and "refused" in r.output, r.output
    assert not (tmp_path / "out" / "data").exists()


def test_nested_npz_bomb_and_lying_sizes(good, tmp_path):
    parts = members(good)
    # arrays.npz itself small, but its coef.npy inflates to 1 GiB
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("coef.npy", "w") as f:
            hdr = io.BytesIO()
            np.lib.format.write_array_header_1_0(hdr, {"descr": "<f4", "fortran_order": False, "shape": (1 << 28,)})
            f.write(hdr.getvalue())
            z_chunk = bytes(1 << 24)
            for _ in range(64):
                f.write(z_chunk)
    nested = write_zip(tmp_path / "nested.bin", {"meta.json": parts["meta.json"], "arrays.npz": inner.getvalue()})
    assert_refused(nested, "coef.npy", "refused")

    # a .npy header declaring far more elements than its bytes hold: numpy would allocate the shape
    arr = io.BytesIO()
    np.lib.format.write_array_header_1_0(arr, {"descr": "<f4", "fortran_order": False, "shape": (1 << 40,)})
    arr.write(bytes(64))
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w", zipfile.ZIP_STORED) as z:
        z.writestr("coef.npy", arr.getvalue())
        z.writestr("intercept.npy", arr.getvalue())
    shape = write_zip(tmp_path / "shape.bin", {"meta.json": parts["meta.json"], "arrays.npz": npz.getvalue()})
    assert_refused(shape, "shape")

    # the central directory lies low: 100 bytes declared, 64 MiB inside; reading stops at the declared size
    liar = tmp_path / "liar.bin"
    write_zip(liar, {"meta.json": parts["meta.json"], "arrays.npz": bytes(64 << 20)})
    raw = bytearray(liar.read_bytes())
    with zipfile.ZipFile(liar) as z:
        local = z.getinfo("arrays.npz").header_offset
    assert struct.unpack_from("<I", raw, local + 22)[0] == 64 << 20  # local header: uncompressed size
    struct.pack_into("<I", raw, local + 22, 100)
    pos = raw.find(b"PK\x01\x02")
    while raw[pos + 46:pos + 46 + 10] != b"arrays.npz":  # central directory entry of arrays.npz
        pos = raw.find(b"PK\x01\x02", pos + 4)
    struct.pack_into("<I", raw, pos + 24, 100)
    liar.write_bytes(bytes(raw))
    assert_refused(liar, "arrays.npz")
    # ...and high: 40 MiB declared (under the size cap) for 4 KiB deflated to a few bytes, past what deflate reaches
    write_zip(liar, {"meta.json": parts["meta.json"], "arrays.npz": bytes(4096)})
    raw = bytearray(liar.read_bytes())
    with zipfile.ZipFile(liar) as z:
        local = z.getinfo("arrays.npz").header_offset
    pos = raw.find(b"PK\x01\x02")
    while raw[pos + 46:pos + 46 + 10] != b"arrays.npz":
        pos = raw.find(b"PK\x01\x02", pos + 4)
    struct.pack_into("<I", raw, local + 22, 40 << 20)
    struct.pack_into("<I", raw, pos + 24, 40 << 20)
    liar.write_bytes(bytes(raw))
    assert_refused(liar, "compression ratio", "refused")


@pytest.mark.parametrize("meta, needle", [
    ([1, 2, 3], "meta.json is a JSON list"),
    ("fast", "meta.json is a JSON str"),
    ({"format": 1, "family": "fast", "task": "ranking"}, "task 'ranking'"),
    ({"format": 1, "family": "embedding", "task": "regression", "embedder": "x", "max_tokens": "many"}, "max_tokens"),
    ({"format": 1, "family": "fast", "task": "regression", "min_label": None, "max_label": "5"}, "max_label"),
    ({"format": 1, "family": "fast", "task": "classification", "features": 1024}, "features 1024"),
])
def test_wrong_meta_schema_names_the_file(good, tmp_path, meta, needle):
    parts = members(good)
    bad = write_zip(tmp_path / "bad.bin", {"meta.json": json.dumps(meta).encode(), "arrays.npz": parts["arrays.npz"]})
    assert_refused(bad, needle)


def test_deep_json_and_bad_weights(good, tmp_path):
    parts = members(good)
    deep = write_zip(tmp_path / "deep.bin", {"meta.json": b"[" * 200_000, "arrays.npz": parts["arrays.npz"]})
    assert_refused(deep, "corrupt")
    npz = io.BytesIO()
    np.savez_compressed(npz, coef=np.full(1 << 20, np.nan, np.float32), intercept=np.zeros(1, np.float32))
    nan = write_zip(tmp_path / "nan.bin", {"meta.json": parts["meta.json"], "arrays.npz": npz.getvalue()})
    assert_refused(nan, "NaN")
    npz = io.BytesIO()
    np.savez_compressed(npz, coef=np.zeros(10, np.float32), intercept=np.zeros(1, np.float32))
    short = write_zip(tmp_path / "short.bin", {"meta.json": parts["meta.json"], "arrays.npz": npz.getvalue()})
    assert_refused(short, "10 weights")


def test_meta_list_through_a_recipe(good, tmp_path):
    parts = members(good)
    bad = write_zip(tmp_path / "list.bin", {"meta.json": b"[]", "arrays.npz": parts["arrays.npz"]})
    r = run_recipe_with(bad, tmp_path)
    assert r.exit_code != 0 and str(bad) in r.output and "meta.json is a JSON list" in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "out" / "data").exists()
    # the good model still loads and scores through the same recipe
    (tmp_path / "ok").mkdir()
    r = run_recipe_with(good, tmp_path / "ok")
    assert r.exit_code == 0, r.output
