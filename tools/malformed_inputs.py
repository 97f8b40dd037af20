#!/usr/bin/env python3
"""Malformed-input corpus and checker (issue 17, part 5).

    python3 tools/malformed_inputs.py VYOLO_BINARY [--out DIR] [--keep] [--only READER] [--mem-limit GB]

Writes well over 100 bad inputs, one reader at a time, each beside good items (python3 standard library only: the
PNGs, NIfTI volumes, DICOM slices, safetensors files and YAML are made here byte by byte; one small JPEG is embedded),
runs `vyolo` on them and checks every case:

  * no crash: an exit code in {0, 1, 2}, no signal, no "terminate called" / abort / assertion / sanitizer text, and no
    hang (each run has a time limit and an address-space limit);
  * the right exit code, per reader (the table below);
  * the message: a reported case names the bad file's path (and the line, for label files and YAML, where the
    program can know it); a config or override value that belongs to no file names the key instead;
  * nothing lost: every good item beside the bad ones was still processed (image and box counts in metrics.json,
    predictions.json entries, prepared cases and their slices in stats.json, evaluated studies in studies.json), and
    a run stopped by a bad config or checkpoint left no output behind.

Some inputs look odd but are valid and must be *accepted* (used, no warning): a JPEG named .png (images are decoded by
content, as Ultralytics/OpenCV do), a 9-column label line (a 4-point polygon, turned into its box as Ultralytics
does), 16-bit RGB images (scaled to 8 bits as cv2.imread does), big-endian NIfTI, a README beside a DICOM series,
paths with spaces, quotes and non-ASCII or non-UTF-8 bytes.

What is right, per reader (the project rule: a bad item is reported with its path and skipped, the run goes on):

  reader          command                         bad item                        exit  good items
  image, label    vyolo val (data.yaml)           warning path[:line], skipped    0     validated (counts)
  predict-image   vyolo predict source=DIR        "skipped PATH: why"             0     predicted (predictions.json)
  nifti, dicom    vyolo prepare source=DIR        case FAILED naming the file     1     prepared (stats.json)
  volume          vyolo evaluate source=DIR       study skipped naming the file   0     evaluated (studies.json)
  volume          vyolo predict source=VOLUME     error naming the file           1     (one item: no output left)
  safetensors     vyolo predict weights=W         error naming the file           1     no output left
  config-yaml     -cd DIR / ./conf files          error naming file:line          2     no work done, nothing written
  data-yaml       data.data_yaml=Y                error naming the file           2     no work done, nothing written
  override        key=value (100 kB)              error naming the key            2     no work done, nothing written

Prints one line per case (PASS/FAIL, reader, what) and "N of M reported correctly, K crashes"; exits 1 if any case
fails. Run time: about 1-2 minutes on 2 cores.
"""
import argparse
import base64
import gzip
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

# ------------------------------------------------------------------------------------------------------------------
# Generators (bytes)
# ------------------------------------------------------------------------------------------------------------------


def png(w, h, depth=8, channels=1, fill=None, seed=0):
    """A valid PNG: colour type 0 (grey) or 2 (RGB), 8 or 16 bits; a gradient unless `fill` is given."""
    ct = {1: 0, 3: 2}[channels]
    rows = []
    for y in range(h):
        row = bytearray([0])
        for x in range(w):
            v = fill if fill is not None else ((x * 7 + y * 3 + seed * 11) % 200 + 20)
            if depth == 16:
                row += struct.pack(">H", v if fill is not None else v * 16) * channels
            else:
                row += bytes([v & 255]) * channels
        rows.append(bytes(row))
    return png_chunks(w, h, depth, ct, zlib.compress(b"".join(rows)))


def png_chunks(w, h, depth, colour_type, idat, crc_ok=True):
    def chunk(t, d, ok=True):
        crc = zlib.crc32(t + d) & 0xFFFFFFFF
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", crc if ok else crc ^ 1)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 0)) +
            chunk(b"IDAT", idat, crc_ok) + chunk(b"IEND", b""))


# A 64 x 48 baseline JPEG (written by OpenCV), so that no image library is needed here.
JPEG = base64.b64decode("""
/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsI
CQoKCgoKBggLDAsKDAkKCgr/2wBDAQICAgICAgUDAwUKBwYHCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoK
CgoKCgoKCgoKCgoKCgr/wAARCAAwAEADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAA
AgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6
Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXG
x8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREA
AgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5
OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPE
xcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwD82/2f/BH+o/c+navuD9n/AMEf6j9z6dq+
f/2f/BH+o/c+navuD9n/AMEf6j9z6dqAPoD9n/wR/qP3Pp2r4d/4OBf2pP8AhOvi54X/AGEvB1xnTfBHk694y/df6zV7i3P2
SH54Qw8mzmaTfFK0cn9o7WUPb8fo7o+u+HvgX8HfEvxt8W6be3GleDvDN9rmp2+nRI9xLb2lu9xIsSuyK0hSNgoZlBJGWA5r
8FpviB8Qf2nfjh4i/aA+Kl59p17xZrMuoX+yWV4oN7fJbw+c7ukEMYSGJC7bIo0QHCigD079n/wR/qP3Pp2r7g/Z/wDBH+o/
c+navn/9n/wR/qP3Pp2r7g/Z/wDBH+o/c+nagD1vR9d8PfAv4O+Jfjb4t029uNK8HeGb7XNTt9OiR7iW3tLd7iRYldkVpCkb
BQzKCSMsBzX4LTfED4g/tO/HDxF+0B8VLz7Tr3izWZdQv9ksrxQb2+S3h853dIIYwkMSF22RRogOFFfo7/wcGftD33w9+AXg
39jnwlfWX2n4hXp1TxbEl5A9xDpdjLE9tE9uyNIkc93tkSdWjOdMkjG8NIF+EP2f/BH+o/c+nagD6A/Z/wDBH+o/c+navuD9
n/wR/qP3Pp2r5/8A2f8AwR/qP3Pp2r7g/Z/8Ef6j9z6dqAPi7/g4M/aHvvh78AvBv7HPhK+svtPxCvTqni2JLyB7iHS7GWJ7
aJ7dkaRI57vbIk6tGc6ZJGN4aQL8Ifs/+CP9R+59O1M/a8/aA1P9tf8Abf8AG3xu/wCEi/tTQW1mTTfBLxJcxwR6HbO0VmYo
bkl4PNjH2iRMIPPuJn2IXKj2P9n/AMEf6j9z6dqAPoD9n/wR/qP3Pp2r7g/Z/wDBH+o/c+navn/9n/wR/qP3Pp2pP+CxH7QG
mfs0f8E8tc8D6X4i+xeK/ijjwzoVrCltLLJZyFTqcjxTHd5H2PzbdpY1do5by3xsLq6gH5e/teftAan+2v8Atv8Ajb43f8JF
/amgtrMmm+CXiS5jgj0O2dorMxQ3JLwebGPtEiYQefcTPsQuVHsf7P8A4I/1H7n07V8//s/+CP8AUfufTtX3B+z/AOCP9R+5
9O1AH0B+z/4I/wBR+59O1J/wWI/aA0z9mj/gnlrngfS/EX2LxX8UceGdCtYUtpZZLOQqdTkeKY7vI+x+bbtLGrtHLeW+NhdX
X2H9n/wR/qP3Pp2r8rP+Czn7Q9j+05/wUAu/AfhK+vZfDvwqsj4Xgie8nNvLqkczvqNwlvIiCCQTFbR2UMJRp8bh2QoFAPEv
2f8AwR/qP3Pp2r7g/Z/8Ef6j9z6dq+f/ANn/AMEf6j9z6dq+4P2f/BH+o/c+nagD6A/Z/wDBH+o/c+navys/4LOftD2P7Tn/
AAUAu/AfhK+vZfDvwqsj4Xgie8nNvLqkczvqNwlvIiCCQTFbR2UMJRp8bh2QoF/UP9pr9pTw9+wb+yD4n/aI1MWUmq2NkLPw
jpl4UI1HWZ8paw+WZommjV8zTLG4kFvBO6glK/C/9n/wR/qP3Pp2oA+gP2f/AAR/qP3Pp2r7g/Z/8Ef6j9z6dq+f/wBn/wAE
f6j9z6dq+4P2f/BH+o/c+nagD//Z
""")

NIFTI_DT = {"u8": (2, 8, "B"), "i16": (4, 16, "h"), "i32": (8, 32, "i"), "f32": (16, 32, "f"), "f64": (64, 64, "d")}


def nifti_header(dims, datatype, bitpix, pixdim=(1.0, 1.0, 2.0), vox_offset=352.0, sizeof_hdr=348,
                 magic=b"n+1\0", endian="<", scl=(1.0, 0.0), ndim=None):
    """A NIfTI-1 header (348 bytes) with an sform of the pixdims, RAS."""
    dim = [ndim if ndim is not None else len(dims)] + list(dims) + [1] * (7 - len(dims))
    h = bytearray(348)
    struct.pack_into(endian + "i", h, 0, sizeof_hdr)
    struct.pack_into(endian + "8h", h, 40, *dim)
    struct.pack_into(endian + "hh", h, 70, datatype, bitpix)
    struct.pack_into(endian + "8f", h, 76, 1.0, *pixdim, 1, 1, 1, 1)
    struct.pack_into(endian + "f", h, 108, vox_offset)
    struct.pack_into(endian + "ff", h, 112, *scl)
    h[123] = 2  # xyzt_units: mm
    struct.pack_into(endian + "hh", h, 252, 1, 1)  # qform_code, sform_code
    struct.pack_into(endian + "4f", h, 280, pixdim[0], 0, 0, 0)
    struct.pack_into(endian + "4f", h, 296, 0, pixdim[1], 0, 0)
    struct.pack_into(endian + "4f", h, 312, 0, 0, pixdim[2], 0)
    h[344:348] = magic
    return bytes(h)


def nifti(dims, kind, values, gz=True, **kw):
    code, bitpix, fmt = NIFTI_DT[kind]
    endian = kw.get("endian", "<")
    data = nifti_header(dims, code, bitpix, **kw) + b"\0\0\0\0" + struct.pack(
        "%s%d%s" % (endian, len(values), fmt), *values)
    return gzip.compress(data, 1) if gz else data


def nifti_raw(dims, datatype, bitpix, body, **kw):
    return gzip.compress(nifti_header(dims, datatype, bitpix, **kw) + b"\0\0\0\0" + body, 1)


CT_DIMS = (40, 40, 10)


def phantom(nx=40, ny=40, nz=10):
    """CT in HU (a bright block in air) and a fracture mask with one instance inside the block."""
    ct, fr = [], []
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                inside = 10 <= x < 30 and 12 <= y < 28
                ct.append(700 if inside else -1000 + (x * 13 + y * 7 + z) % 40)
                fr.append(1 if (14 <= x < 26 and 15 <= y < 25 and 3 <= z < 7) else 0)
    return ct, fr


def dicom_element(group, elem, vr, value):
    """One data element, explicit VR little endian."""
    if isinstance(value, str):
        value = value.encode()
        if len(value) % 2:
            value += b"\0" if vr == "UI" else b" "
    if vr in ("OB", "OW", "SQ", "UN", "UT"):
        return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr.encode(), len(value)) + value


def dicom_slice(z=0.0, instance=1, rows=40, cols=40, series="1.2.826.0.1.3680043.2.1125.7.1", drop=(), put=None,
                pixels=None, samples=1, frames=1):
    """A CT slice (Explicit VR Little Endian, 16-bit unsigned, rescale intercept -1024). `drop`: tags left out;
    `put`: {(group, elem): (vr, value)} replaced or added."""
    sop = "1.2.826.0.1.3680043.2.1125.8.%d" % instance
    meta_body = (dicom_element(0x0002, 0x0001, "OB", b"\0\1") +
                 dicom_element(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.2") +
                 dicom_element(0x0002, 0x0003, "UI", sop) +
                 dicom_element(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1"))
    meta = dicom_element(0x0002, 0x0000, "UL", struct.pack("<I", len(meta_body))) + meta_body
    if pixels is None:
        pixels = [((x * 5 + y * 3 + instance) % 200) + (1700 if 10 <= x < 30 and 12 <= y < 28 else 30)
                  for y in range(rows) for x in range(cols)] * (samples * frames)
    us = lambda v: struct.pack("<H", v)  # noqa: E731
    tags = {
        (0x0008, 0x0016): ("UI", "1.2.840.10008.5.1.4.1.1.2"), (0x0008, 0x0018): ("UI", sop),
        (0x0008, 0x0060): ("CS", "CT"), (0x0020, 0x000D): ("UI", "1.2.826.0.1.3680043.2.1125.6"),
        (0x0020, 0x000E): ("UI", series), (0x0020, 0x0013): ("IS", str(instance)),
        (0x0020, 0x0032): ("DS", "0\\0\\%g" % z), (0x0020, 0x0037): ("DS", "1\\0\\0\\0\\1\\0"),
        (0x0028, 0x0002): ("US", us(samples)),
        (0x0028, 0x0004): ("CS", "MONOCHROME2" if samples == 1 else "RGB"),
        (0x0028, 0x0010): ("US", us(rows)), (0x0028, 0x0011): ("US", us(cols)),
        (0x0028, 0x0030): ("DS", "1\\1"), (0x0028, 0x0100): ("US", us(16)), (0x0028, 0x0101): ("US", us(16)),
        (0x0028, 0x0102): ("US", us(15)), (0x0028, 0x0103): ("US", us(0)),
        (0x0028, 0x1052): ("DS", "-1024"), (0x0028, 0x1053): ("DS", "1"),
        (0x7FE0, 0x0010): ("OW", struct.pack("<%dH" % len(pixels), *pixels)),
    }
    if samples > 1:
        tags[(0x0028, 0x0006)] = ("US", us(0))
    if frames > 1:
        tags[(0x0028, 0x0008)] = ("IS", str(frames))
    tags.update(put or {})
    body = b"".join(dicom_element(g, e, *tags[(g, e)]) for (g, e) in sorted(tags) if (g, e) not in drop)
    return b"\0" * 128 + b"DICM" + meta + body


def dicom_series(n=8, **kw):
    return {"slice_%03d.dcm" % i: dicom_slice(z=2.0 * i, instance=i + 1, **kw) for i in range(n)}


def st_split(data):
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def st_pack(tensors, meta):
    """A valid safetensors file of {name: (dtype, shape, bytes)}: tensors stored one after the other, as the format
    asks, so that a case changes only what it means to change."""
    header, body, at = {"__metadata__": meta}, b"", 0
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [at, at + len(data)]}
        body += data
        at += len(data)
    return st_join(header, body)


def st_join(header, body):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-(len(h) + 8) % 8)
    return struct.pack("<Q", len(h)) + h + body


def yaml_alias_bomb(levels=9, width=9):
    """The "billion laughs": 9 levels of 9 aliases, 9^10 strings once expanded."""
    out = 'l0: &l0 [' + ','.join(['"lol"'] * width) + ']\n'
    for i in range(1, levels + 1):
        out += 'l%d: &l%d [%s]\n' % (i, i, ','.join(['*l%d' % (i - 1)] * width))
    return out


def nested_flow(depth, kind="seq"):
    return ("[" * depth + "]" * depth) if kind == "seq" else ("{a: " * depth + "1" + "}" * depth)


# ------------------------------------------------------------------------------------------------------------------
# Cases and runs
# ------------------------------------------------------------------------------------------------------------------

CRASH_MARKERS = ("terminate called", "Segmentation fault", "Aborted", "core dumped", "Assertion `", "AddressSanitizer",
                 "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:", "stack smashing", "double free",
                 "free(): ", "malloc(): ", "Floating point exception", "Illegal instruction")
COMPLAINT = re.compile(r"skip|warn|error|fail|cannot|invalid|corrupt|truncat|not a|unsupported", re.I)


def fs(path):
    """A path as vyolo prints it, for matching in its output (bytes that are not UTF-8 survive as surrogates)."""
    return os.fsdecode(path)


class Case:
    def __init__(self, reader, what, path=None, line=None, needles=(), expect="reported"):
        self.reader, self.what, self.path, self.line = reader, what, path, line
        self.needles = list(needles)
        self.expect = expect  # "reported": named in a message; "accepted": used, no complaint naming it


class Run:
    """One vyolo command: its cases, the exit code it must end with and a check of the good items."""

    def __init__(self, name, argv, expect_rc, cases, cwd=None, good=None, timeout=180):
        self.name, self.argv, self.expect_rc, self.cases = name, argv, expect_rc, cases
        self.cwd, self.good, self.timeout = cwd, good, timeout


def nothing_at(*paths):
    def check(_out):
        return ["output left behind: %s" % fs(p) for p in paths if os.path.lexists(p)]
    return check


def ascii_key(text):
    """A name compared across JSON: vyolo writes bytes that are not UTF-8 as U+FFFD (JSON cannot hold them), so runs
    of non-ASCII characters are compared as one '?'."""
    return re.sub(r"[^\x00-\x7f]+", "?", text)


def load_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8", "surrogateescape"))


class Corpus:
    def __init__(self, vyolo, root):
        self.vyolo, self.root = vyolo, root
        self.runs = []

    def p(self, *parts):
        return os.path.join(self.root, *parts)

    def write(self, path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    # --- images and labels through the dataset reader (vyolo val) -------------------------------------------------
    def val_dataset(self, weights):
        root = self.p("val set ü")
        img, lab = os.path.join(root, "images", "val"), os.path.join(root, "labels", "val")
        cases, used, boxes = [], [], [0]
        box = "0 0.5 0.5 0.25 0.25\n"

        def item(name, data, label=box, n_boxes=None, case=None):
            path = self.write(os.path.join(img, name) if isinstance(name, str)
                              else os.fsencode(img) + b"/" + name, data)
            if label is not None:
                stem = os.path.splitext(os.path.basename(name))[0]
                self.write(os.path.join(os.fsencode(lab), os.fsencode(stem) + b".txt"), label)
            if case is None or case.expect == "accepted":
                used.append(path)
                boxes[0] += label.count("\n") if n_boxes is None and label else (n_boxes or 0)
            if case is not None:
                case.path = case.path or path
                cases.append(case)
            return path

        good = png(64, 64)
        for i in range(4):
            item("good%d.png" % i, png(64, 64, seed=i))
        item("good.jpg", JPEG)
        # Images: unusable ones are skipped with a warning naming them; the rest of the set is validated.
        I = "image"  # noqa: E741
        item("empty.png", b"", case=Case(I, "empty file (0 bytes)"))
        item("truncated.png", good[:len(good) // 2], case=Case(I, "PNG cut in half"))
        item("header_only.png", good[:33], case=Case(I, "PNG signature and IHDR only"))
        item("bad_crc.png", png_chunks(64, 64, 8, 0, zlib.compress(b"\0" * 65 * 64), crc_ok=False),
             case=Case(I, "PNG with a wrong IDAT checksum"))
        item("huge_ihdr.png", png_chunks(100000, 100000, 8, 0, zlib.compress(b"\0" * 100)),
             case=Case(I, "PNG header claiming 100000 x 100000 pixels"))
        item("text.png", b"this is not an image\n", case=Case(I, "text file named .png"))
        item("random.jpg", bytes((i * 131 + 7) % 256 for i in range(700)), case=Case(I, "random bytes named .jpg"))
        item("truncated_jpeg.png", JPEG[:len(JPEG) // 2], case=Case(I, "PNG that is a truncated JPEG"))
        item("truncated.jpg", JPEG[:len(JPEG) - 200], case=Case(I, "JPEG without its last 200 bytes"))
        item("tiny.png", png(1, 1), case=Case(I, "1 x 1 pixel image"))
        item("sixteen_bit.png", png(64, 64, depth=16), case=Case(I, "16-bit grey (12-bit values) where 8-bit is expected"))
        item("bmp_header.bmp", b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + b"\0" * 16, case=Case(I, "BMP header only"))
        item("jpeg_named.png", JPEG, case=Case(I, "PNG that is a (valid) JPEG", expect="accepted"))
        item("png_named.jpg", png(64, 64, seed=7), case=Case(I, "JPEG that is a (valid) PNG", expect="accepted"))
        item("rgb16.png", png(64, 64, depth=16, channels=3), case=Case(I, "16-bit RGB (scaled to 8 bits)",
                                                                       expect="accepted"))
        # Labels: each bad line is skipped with file:line; the good lines of the same file still count.
        L = "label"

        def label(name, text, good_lines, what, line, expect="reported"):
            lp = os.path.join(lab, name + ".txt")
            c = Case(L, what, path=lp, line=line if expect == "reported" else None, expect=expect)
            item(name + ".png", png(64, 64, seed=len(cases)), label=text, n_boxes=good_lines)
            cases.append(c)

        label("cols4", box + "0 0.5 0.5 0.2\n", 1, "4 columns", 2)
        label("cols6", "0 0.5 0.5 0.2 0.2 0.9\n" + box, 1, "6 columns (a prediction line with conf)", 1)
        label("cols8", box + "0 0.1 0.1 0.9 0.1 0.9 0.9 0.1\n", 1, "8 columns (odd polygon)", 2)
        label("cols9", "0 0.1 0.1 0.9 0.1 0.9 0.9 0.1 0.9\n", 1, "9 columns (4-point polygon)", None, "accepted")
        label("nan", box + "0 nan 0.5 0.2 0.2\n", 1, "NaN coordinate", 2)
        label("inf", "0 0.5 inf 0.2 0.2\n" + box, 1, "inf coordinate", 1)
        label("big", box + "0 0.5 0.5 1e308 0.2\n", 1, "1e308 width", 2)
        label("overflow", box + "0 0.5 0.5 0.2 1e309\n", 1, "1e309 (overflows a double)", 2)
        label("negbig", box + "0 -1e308 0.5 0.2 0.2\n", 1, "-1e308 coordinate", 2)
        label("cls5", box + "5 0.4 0.4 0.2 0.2\n", 1, "class id 5 with nc=1", 2)
        label("clsneg", "-1 0.4 0.4 0.2 0.2\n" + box, 1, "class id -1", 1)
        label("clsfrac", box + "0.5 0.4 0.4 0.2 0.2\n", 1, "class id 0.5", 2)
        label("clsbig", box + "1e308 0.4 0.4 0.2 0.2\n", 1, "class id 1e308", 2)
        label("outside", box + "0 1.5 0.5 0.2 0.2\n", 1, "coordinate 1.5 (not normalised)", 2)
        label("negsize", box + "0 0.5 0.5 -0.2 0.2\n", 1, "negative width", 2)
        label("zerosize", box + "0 0.5 0.5 0 0\n", 1, "zero-size box", 2)
        label("words", box + "zero 0.5 0.5 0.2 0.2\n", 1, "class id is a word", 2)
        label("binary", "\x00\x01\x02 \xff\xfe\n" + box, 1, "binary garbage line", 1)
        label("bom", "\ufeff0 0.4 0.4 0.2 0.2\n" + box, 1, "UTF-8 byte-order mark", 1)
        label("longline", box + "0 " + "0.5 " * 200000 + "\n", 1, "800 kB line", 2)
        label("crlf", box.replace("\n", "\r\n") + "0 0.3 0.3 0.1 0.1\r\n", 2, "CRLF line ends", None, "accepted")
        # Paths with spaces, quotes, non-ASCII and non-UTF-8 bytes: good ones are used, bad ones named exactly.
        P = "path"
        for n in ("a b c.png", "ü ñ é.png", "日本語 画像.png", "quote ' \" $HOME.png", "-leading dash.png"):
            item(n, png(64, 64, seed=len(n)), case=Case(P, "good image named %r" % n, expect="accepted"))
        item(b"latin1 \xe9t\xe9.png", png(64, 64, seed=3), case=Case(P, "good image, name not UTF-8", expect="accepted"))
        item("leer ü 日本.png", b"", case=Case(P, "empty image, name with spaces and non-ASCII"))
        item(b"bad \xff\xfe.png", b"xx", case=Case(P, "corrupt image, name not UTF-8"))
        lp = os.path.join(lab, "schlecht ü.txt")
        item("schlecht ü.png", png(64, 64, seed=5), label=box + "0 0.5\n", n_boxes=1)
        cases.append(Case(P, "bad label line, file name with non-ASCII", path=lp, line=2))

        yml = self.write(os.path.join(root, "data.yaml"),
                         "path: %s\ntrain: images/val\nval: images/val\nnames:\n  0: fracture\n" % json.dumps(root))
        project = self.p("val runs")
        n_images, n_boxes = len(used), boxes[0]

        def good_check(_out):
            m = os.path.join(project, "val", "metrics.json")
            if not os.path.exists(m):
                return ["no metrics.json"]
            j = load_json(m)
            errs = []
            if j.get("images") != n_images:
                errs.append("validated %s images, expected %d" % (j.get("images"), n_images))
            if j.get("instances") != n_boxes:
                errs.append("counted %s boxes, expected %d" % (j.get("instances"), n_boxes))
            return errs

        self.runs.append(Run("val: images, labels, paths", ["val", "weights=" + weights, "data.data_yaml=" + yml,
                                                            "project=" + project, "name=val"], 0, cases,
                             good=good_check))

    # --- images through predict -------------------------------------------------------------------------------------
    def predict_images(self, weights):
        src = self.p("predict in ü")
        cases, good = [], []
        R = "predict-image"

        def item(name, data, case=None):
            path = self.write(os.path.join(os.fsencode(src), os.fsencode(name)), data)
            if case is None or case.expect == "accepted":
                good.append(path)
            if case is not None:
                case.path = path
                cases.append(case)

        item("good 1.png", png(64, 64, seed=1))
        item("good 2.jpg", JPEG)
        item("empty.png", b"", Case(R, "empty file"))
        item("truncated.png", png(64, 64)[:300], Case(R, "truncated PNG"))
        item("truncated.jpg", JPEG[:900], Case(R, "truncated JPEG"))
        item("notes.txt", "not an image\n", Case(R, "text file in the image folder"))
        item("random.webp", bytes(range(256)) * 3, Case(R, "random bytes named .webp"))
        item("sixteen.png", png(64, 64, depth=16), Case(R, "16-bit grey (scaled to 8 bits, as Ultralytics)",
                                                        expect="accepted"))
        item("日本 ü.png", png(48, 64, seed=4), Case(R, "good image, non-ASCII name", expect="accepted"))
        item(b"latin1 \xe9.png", png(64, 48, seed=5), Case(R, "good image, name not UTF-8", expect="accepted"))
        item(b"bad \xff.png", b"\x89PNG\r\n", Case(R, "corrupt image, name not UTF-8"))
        project = self.p("predict runs")

        def good_check(_out):
            pj = os.path.join(project, "p", "predictions.json")
            if not os.path.exists(pj):
                return ["no predictions.json"]
            j = load_json(pj)
            got = {ascii_key(p["image"]) for p in j.get("predictions", [])}
            errs = ["not predicted: %s" % fs(g) for g in good if ascii_key(fs(g)) not in got]
            skipped = {ascii_key(s["path"]) for s in j.get("skipped", [])}
            errs += ["not listed as skipped in predictions.json: %s" % fs(c.path) for c in cases
                     if c.expect == "reported" and ascii_key(fs(c.path)) not in skipped]
            return errs

        self.runs.append(Run("predict: images", ["predict", "weights=" + weights, "source=" + src, "conf=0.01",
                                                 "project=" + project, "name=p"], 0, cases, good=good_check))

    # --- NIfTI and DICOM through prepare ----------------------------------------------------------------------------
    def nifti_studies(self):
        """Studies for prepare: good cases and bad NIfTI volumes/masks. Returns (source, good case ids)."""
        src = self.p("studies nifti")
        ct, fr = phantom()
        ct_ok, fr_ok = nifti(CT_DIMS, "i16", ct), nifti(CT_DIMS, "u8", fr)
        raw = gzip.decompress(ct_ok)
        cases, good_ids = [], []
        R = "nifti"

        def study(name, ct_bytes=None, fr_bytes=None, ct_name="ct.nii.gz", what=None, bad="ct", expect="reported"):
            d = os.path.join(os.fsencode(src), os.fsencode(name))
            ctp = self.write(os.path.join(d, os.fsencode(ct_name)), ct_ok if ct_bytes is None else ct_bytes)
            frp = os.path.join(d, b"fracture.nii.gz")
            if fr_bytes is not False:
                self.write(frp, fr_ok if fr_bytes is None else fr_bytes)
            if what is None or expect == "accepted":
                good_ids.append(os.fsdecode(name).replace("_", "-"))
            if what is not None:
                cases.append(Case(R, what, path={"ct": ctp, "mask": frp, "dir": d}[bad], expect=expect))

        study("good1")
        study("good2")
        study("good space ü 日本", what="good study, folder with spaces and non-ASCII", expect="accepted")
        study(b"good latin1 \xe9", what="good study, folder name not UTF-8", expect="accepted")
        study("good_bigendian", nifti(CT_DIMS, "i16", ct, endian=">"), nifti(CT_DIMS, "u8", fr, endian=">"),
              what="big-endian NIfTI", expect="accepted")
        study("good_plain", nifti(CT_DIMS, "i16", ct, gz=False), ct_name="ct.nii", what="uncompressed .nii",
              expect="accepted")
        study("empty", b"", what="empty ct.nii.gz")
        study("trunc_gz", ct_ok[:len(ct_ok) // 2], what="gzip stream cut in half")
        study("trunc_raw", raw[:len(raw) // 2], ct_name="ct.nii", what="uncompressed file cut in half")
        study("garbage", gzip.compress(bytes((i * 7919) % 251 for i in range(4000))), what="gzip of random bytes")
        study("not_gzip", b"\x1f\x8b" + b"\0" * 400, what="gzip magic, then zeros")
        study("dims_4d", nifti((40, 40, 5, 2), "i16", ct), what="4-D (two volumes)")
        study("dims_9", nifti(CT_DIMS, "i16", ct, ndim=9), what="dim[0]=9")
        study("dims_0", nifti(CT_DIMS, "i16", ct, ndim=0), what="dim[0]=0")
        study("dims_neg", nifti((40, -40, 10), "i16", ct), what="negative dimension")
        study("dims_zero", nifti((40, 0, 10), "i16", []), what="zero dimension")
        study("dims_huge", nifti((30000, 30000, 30000), "i16", ct), what="30000^3 voxels declared, 16000 present")
        study("dt_complex", nifti_raw(CT_DIMS, 32, 64, b"\0" * 8 * 16000), what="datatype complex64")
        study("dt_rgb", nifti_raw(CT_DIMS, 128, 24, b"\0" * 3 * 16000), what="datatype RGB24")
        study("dt_zero", nifti_raw(CT_DIMS, 0, 16, b"\0" * 2 * 16000), what="datatype 0")
        study("dt_unknown", nifti_raw(CT_DIMS, 1234, 16, b"\0" * 2 * 16000), what="datatype 1234")
        study("dt_lie", nifti_raw(CT_DIMS, 16, 32, raw[352:]), what="says float32, holds int16 (half the bytes)")
        study("nan", nifti(CT_DIMS, "f32", [float("nan")] * 16000), what="NaN voxels")
        study("inf_f64", nifti(CT_DIMS, "f64", [1e308] * 8000 + [float("inf")] * 8000), what="1e308 and inf voxels")
        study("big_f64", nifti(CT_DIMS, "f64", [1e308] * 16000), what="float64 1e308 (inf as float32)")
        study("sizeof_hdr", nifti(CT_DIMS, "i16", ct, sizeof_hdr=1234), expect="accepted",
              what="sizeof_hdr 1234 (niftilib reads the rest; the volume is intact)")
        study("vox_offset", nifti(CT_DIMS, "i16", ct, vox_offset=1e12), what="vox_offset 1e12")
        study("vox_offset_nan", nifti(CT_DIMS, "i16", ct, vox_offset=float("nan")), what="vox_offset NaN")
        study("pixdim_zero", nifti(CT_DIMS, "i16", ct, pixdim=(0, 0, 0)), what="zero voxel size")
        study("pixdim_nan", nifti(CT_DIMS, "i16", ct, pixdim=(float("nan"), 1, 1)), what="NaN voxel size")
        study("slope_inf", nifti(CT_DIMS, "i16", ct, scl=(1e38, 0)), what="scl_slope 1e38 (HU overflow)")
        study("mask_dims", None, nifti((40, 40, 9), "u8", fr[:14400]), what="mask of another shape", bad="mask")
        study("mask_nan", None, nifti(CT_DIMS, "f32", [float("nan")] * 16000), what="mask with NaN", bad="mask")
        study("mask_trunc", None, fr_ok[:200], what="truncated mask", bad="mask")
        study("mask_missing", None, False, what="no fracture mask", bad="dir")
        return src, good_ids, cases

    def prepare_nifti(self):
        src, good_ids, cases = self.nifti_studies()
        out = self.p("prepared nifti")
        self.runs.append(Run("prepare: NIfTI", ["prepare", "source=" + fs(src), "out=" + out, "crop=none",
                                                "image_size=64", "max_negatives=2", "workers=2"], 1, cases,
                             good=self.prepared_check(out, good_ids)))
        return out

    def prepared_check(self, out, good_ids):
        def check(_out):
            st = os.path.join(out, "stats.json")
            if not os.path.exists(st):
                return ["no stats.json"]
            j = load_json(st)
            errs = []
            if j.get("cases_prepared") != len(good_ids):
                errs.append("%s cases prepared, expected %d" % (j.get("cases_prepared"), len(good_ids)))
            names = [fs(n) for n in os.listdir(os.fsencode(os.path.join(out, "images", "axial")))]
            for gid in good_ids:
                if not any(n.startswith(gid + "_") for n in names):
                    errs.append("no slices of good case %r" % gid)
            return errs
        return check

    def prepare_dicom(self):
        src = self.p("studies dicom")
        cases, good_ids = [], []
        R = "dicom"

        def study(name, files, what=None, bad_file=None, expect="reported"):
            d = os.path.join(src, name, "ct")
            for fn, data in files.items():
                self.write(os.path.join(d, fn), data)
            if what is None or expect == "accepted":
                good_ids.append(name.replace("_", "-"))
            if what is not None:
                cases.append(Case(R, what, path=os.path.join(d, bad_file) if bad_file else d, expect=expect))

        def with_slice(i, data, drop_slice=False):
            s = dicom_series()
            if drop_slice:
                del s["slice_%03d.dcm" % i]
            else:
                s["slice_%03d.dcm" % i] = data
            return s

        s3 = lambda **kw: dicom_slice(z=6.0, instance=4, **kw)  # noqa: E731  the 4th slice, z = 6 mm
        full = dicom_slice(z=14.0, instance=8)
        study("good1", dicom_series())
        study("good_readme", dict(dicom_series(), **{"README.txt": b"CT series, 8 slices\n"}),
              what="README.txt beside the slices", expect="accepted")
        study("mixed_size", with_slice(3, s3(rows=32, cols=32)), "one slice 32 x 32 among 40 x 40", "slice_003.dcm")
        study("mixed_series", with_slice(3, s3(series="1.2.3.999")), "two SeriesInstanceUIDs", "slice_003.dcm")
        study("no_series_uid", with_slice(3, s3(drop=[(0x0020, 0x000E)])), "one slice without SeriesInstanceUID",
              "slice_003.dcm")
        study("no_position", dicom_series(drop=[(0x0020, 0x0032)]), "no ImagePositionPatient", "slice_000.dcm")
        study("no_orientation", dicom_series(drop=[(0x0020, 0x0037)]), "no ImageOrientationPatient",
              "slice_000.dcm")
        study("no_spacing", dicom_series(drop=[(0x0028, 0x0030)]), "no PixelSpacing", "slice_000.dcm")
        study("no_rows_one", with_slice(7, dicom_slice(z=14.0, instance=8, drop=[(0x0028, 0x0010)])),
              "last slice without Rows", "slice_007.dcm")
        study("no_rows_all", dicom_series(drop=[(0x0028, 0x0010)]), "no Rows in any slice")
        study("no_bits", with_slice(3, s3(drop=[(0x0028, 0x0100)])), "one slice without BitsAllocated",
              "slice_003.dcm")
        study("no_pixels", with_slice(7, dicom_slice(z=14.0, instance=8, drop=[(0x7FE0, 0x0010)])),
              "last slice without PixelData", "slice_007.dcm")
        study("trunc_pixels_last", with_slice(7, full[:len(full) - 1000]), "last slice's pixel data cut short",
              "slice_007.dcm")
        study("trunc_pixels_mid", with_slice(3, s3()[:2000]), "a middle slice cut inside the pixel data",
              "slice_003.dcm")
        study("trunc_header", with_slice(7, full[:300]), "last slice cut inside its header", "slice_007.dcm")
        study("trunc_meta", with_slice(7, full[:140]), "last slice cut inside the file meta", "slice_007.dcm")
        study("empty_slice", with_slice(7, b""), "last slice an empty .dcm file", "slice_007.dcm")
        study("huge_rows", with_slice(0, dicom_slice(z=0.0, instance=1, rows=60000, cols=60000,
                                                     pixels=[0] * 1600)),
              "Rows/Columns 60000 with 40 x 40 pixels of data", "slice_000.dcm")
        study("gap", with_slice(3, None, drop_slice=True), "a slice missing (irregular spacing)")
        study("same_position", with_slice(4, s3()), "two slices at the same position")
        study("rgb", dicom_series(samples=3), "RGB slices (3 samples per pixel)", "slice_000.dcm")
        study("multiframe", with_slice(3, s3(frames=2)), "a 2-frame image in the series", "slice_003.dcm")
        study("garbage", {"a.dcm": bytes((i * 31) % 256 for i in range(3000)), "b.dcm": b"\0" * 500},
              "only unreadable files")
        out = self.p("prepared dicom")
        self.runs.append(Run("prepare: DICOM", ["prepare", "source=" + src, "out=" + out, "crop=none",
                                                "image_size=64", "max_negatives=2", "allow_unlabeled=true"], 1, cases,
                             good=self.prepared_check(out, good_ids)))

    # --- volumes through the inference reader (evaluate, predict) -------------------------------------------------
    def volumes(self, weights):
        src = self.p("studies eval")
        ct, fr = phantom()
        ct_ok, fr_ok = nifti(CT_DIMS, "i16", ct), nifti(CT_DIMS, "u8", fr)
        cases, good_ids = [], []
        R = "volume"

        def study(name, ct_bytes=None, fr_bytes=None, what=None, bad="ct"):
            d = os.path.join(src, name)
            ctp = self.write(os.path.join(d, "ct.nii.gz"), ct_ok if ct_bytes is None else ct_bytes)
            frp = self.write(os.path.join(d, "fracture.nii.gz"), fr_ok if fr_bytes is None else fr_bytes)
            if what is None:
                good_ids.append(name)
            else:
                cases.append(Case(R, what, path=ctp if bad == "ct" else frp))

        study("good_a")
        study("good b ü")
        study("nan", nifti(CT_DIMS, "f32", [float("nan")] * 16000), what="evaluate: NaN voxels")
        study("slope_inf", nifti(CT_DIMS, "i16", ct, scl=(1e38, 0)), what="evaluate: scl_slope 1e38")
        study("dims_4d", nifti((40, 40, 5, 2), "i16", ct), what="evaluate: 4-D volume")
        study("trunc", ct_ok[:len(ct_ok) // 3], what="evaluate: truncated gzip")
        study("mask_shape", None, nifti((40, 40, 9), "u8", fr[:14400]), what="evaluate: mask of another shape",
              bad="mask")
        d = os.path.join(src, "dicom_trunc")
        for fn, data in dicom_series().items():
            self.write(os.path.join(d, "ct", fn), data)
        self.write(os.path.join(d, "ct", "slice_007.dcm"), dicom_slice(z=14.0, instance=8)[:300])
        self.write(os.path.join(d, "fracture.nii.gz"), fr_ok)
        cases.append(Case(R, "evaluate: DICOM slice cut inside its header", os.path.join(d, "ct", "slice_007.dcm")))
        out = self.p("evaluate out")

        def good_check(_out):
            sj = os.path.join(out, "studies.json")
            if not os.path.exists(sj):
                return ["no studies.json"]
            j = load_json(sj)
            got = {e["study"] for e in j.get("evaluated", [])}
            return ["good study not evaluated: %s" % g for g in good_ids if g not in got]

        self.runs.append(Run("evaluate: volumes", ["evaluate", "weights=" + weights, "source=" + src, "out=" + out,
                                                   "conf=0.01"], 0, cases, good=good_check))
        # One volume given to predict: an error naming it, and no half-written result folder.
        for name, data, what in (("bad slope.nii.gz", nifti(CT_DIMS, "i16", ct, scl=(1e38, 0)),
                                  "predict: scl_slope 1e38"),
                                 ("trunc ü.nii.gz", ct_ok[:1000], "predict: truncated gzip")):
            path = self.write(self.p("predict volumes", name), data)
            project = self.p("predict volume runs")
            self.runs.append(Run("predict: " + name, ["predict", "weights=" + weights, "source=" + path,
                                                      "project=" + project, "name=v"], 1,
                                 [Case(R, what, path)], good=nothing_at(os.path.join(project, "v"))))
        d = self.p("predict volumes", "dicom mixed")
        for fn, data in dicom_series().items():
            self.write(os.path.join(d, fn), data)
        self.write(os.path.join(d, "slice_005.dcm"), dicom_slice(z=10.0, instance=6, rows=20, cols=20))
        project = self.p("predict volume runs")
        self.runs.append(Run("predict: DICOM folder", ["predict", "weights=" + weights, "source=" + d,
                                                       "project=" + project, "name=d"], 1,
                             [Case(R, "predict: DICOM series of mixed sizes", os.path.join(d, "slice_005.dcm"))],
                             good=nothing_at(os.path.join(project, "d"))))

    # --- safetensors ------------------------------------------------------------------------------------------------
    def safetensors(self, weights):
        with open(weights, "rb") as f:
            w = f.read()
        h, body = st_split(w)
        stem = "model.0.conv.weight"
        a0, a1 = h[stem]["data_offsets"]
        img = self.write(self.p("st image", "x.png"), png(64, 64))
        R = "safetensors"
        sizes = {}
        for k, v in h.items():
            if k != "__metadata__":
                sizes.setdefault(v["data_offsets"][1] - v["data_offsets"][0], []).append(k)
        twin = next(v for v in sizes.values() if len(v) > 1)

        def bad(name, what, data):
            path = self.write(self.p("weights", name + ".safetensors"), data)
            project = self.p("st runs")
            self.runs.append(Run("safetensors: " + name, ["predict", "weights=" + path, "source=" + img,
                                                          "project=" + project, "name=" + name], 1,
                                 [Case(R, what, path)], good=nothing_at(os.path.join(project, name))))

        def edit(fn):
            hh = json.loads(json.dumps(h))
            fn(hh)
            return st_join(hh, body)

        def setk(key, field, value):
            return lambda hh: hh[key].__setitem__(field, value)

        def meta(key, value):
            return lambda hh: hh["__metadata__"].__setitem__(key, value)

        bad("empty", "empty file", b"")
        bad("short", "5 bytes", w[:5])
        bad("hdr_len_huge", "header length 2^62", struct.pack("<Q", 1 << 62) + w[8:])
        bad("hdr_len_past_end", "header length past the end of the file", struct.pack("<Q", len(w)) + w[8:])
        bad("hdr_not_json", "header is not JSON", struct.pack("<Q", 8) + b"not json" + body)
        bad("hdr_array", "header is a JSON array", st_join([1, 2, 3], body))
        bad("truncated", "file cut in half", w[:len(w) // 2])
        bad("no_data", "header only, no tensor data", st_join(h, b""))
        bad("dtype_unknown", "unknown dtype 'Q7'", edit(setk(stem, "dtype", "Q7")))
        bad("dtype_number", "dtype is a number", edit(setk(stem, "dtype", 5)))
        bad("dtype_lie", "says F16 for F32 data", edit(setk(stem, "dtype", "F16")))
        bad("shape_overflow", "shape 2^32 x 2^32 (numel wraps to 0)",
            edit(lambda hh: hh[stem].update(shape=[1 << 32, 1 << 32], data_offsets=[a0, a0])))
        bad("shape_negative", "negative dimension", edit(setk(stem, "shape", [-16, 3, 3, 3])))
        bad("shape_string", "shape is a string", edit(setk(stem, "shape", "16x3x3x3")))
        bad("offsets_huge", "data offsets 10^30", edit(setk(stem, "data_offsets", [0, 10 ** 30])))
        bad("offsets_negative", "negative data offset", edit(setk(stem, "data_offsets", [-5, 3])))
        bad("offsets_reversed", "end offset before start", edit(setk(stem, "data_offsets", [a1, a0])))
        bad("offsets_overlap", "two tensors share their bytes (%s, %s)" % tuple(twin[:2]),
            edit(lambda hh: hh[twin[0]].__setitem__("data_offsets", h[twin[1]]["data_offsets"])))
        bad("trailing_bytes", "bytes after the last tensor (a hole)", st_join(h, body + b"\0" * 64))
        tensors = {k: (v["dtype"], v["shape"], body[v["data_offsets"][0]:v["data_offsets"][1]])
                   for k, v in h.items() if k != "__metadata__"}

        def repack(drop=(), put=None, meta_put=None):
            t = {k: v for k, v in tensors.items() if k not in drop}
            t.update(put or {})
            return st_pack(t, dict(h["__metadata__"], **(meta_put or {})))

        bad("missing_tensor", "a tensor of the model missing", repack(drop=["model.9.cv2.bn.weight"]))
        bad("extra_tensor", "a tensor the model does not have", repack(put={"model.99.x": tensors[stem]}))
        bad("no_stem", "no model.0.conv.weight", repack(drop=[stem]))
        bad("shape_model", "shape the model does not have",
            repack(put={stem: ("F32", [8, 3, 3, 3], tensors[stem][2][:8 * 27 * 4])}))
        bad("stem_3d", "stem of 3-D shape", repack(put={stem: ("F32", [16, 3, 9], tensors[stem][2])}))
        # Control: the same repacking with nothing changed gives weights that load and predict.
        path = self.write(self.p("weights", "repacked ok.safetensors"), repack())
        project = self.p("st runs")
        self.runs.append(Run("safetensors: repacked", ["predict", "weights=" + path, "source=" + img,
                                                       "project=" + project, "name=ok"], 0,
                             [Case(R, "control: the corpus' own repacking, unchanged", path, expect="accepted")],
                             good=lambda _o: [] if os.path.exists(os.path.join(project, "ok", "predictions.json"))
                             else ["no predictions.json"]))
        bad("meta_not_object", "__metadata__ is a string", edit(lambda hh: hh.__setitem__("__metadata__", "x")))
        bad("meta_img_size_word", "metadata img_size 'big'", edit(meta("img_size", "big")))
        bad("meta_img_size_huge", "metadata img_size 100000000", edit(meta("img_size", "100000000")))
        bad("meta_img_size_negative", "metadata img_size -64", edit(meta("img_size", "-64")))
        bad("meta_names", "metadata names not a JSON list", edit(meta("names", "[1,2")))

        bad("meta_num_classes", "no class head and num_classes 'many'",
            repack(drop=[k for k in tensors if k.startswith("model.22.cv3.")], meta_put={"num_classes": "many"}))

    # --- YAML config files ---------------------------------------------------------------------------------------
    def config_yaml(self):
        R = "config-yaml"

        def bad(name, text, what, line=None, rel="config.yaml", extra=(), needles=(), names_file=True, rc=2):
            d = self.p("conf dirs", name)
            path = self.write(os.path.join(d, rel), text)
            out = self.p("conf out", name)
            # rc 0: a warning, and the work is done; rc 2: nothing done.
            good = nothing_at(out) if rc else (lambda _o: [] if os.path.isdir(out) else ["synth wrote nothing"])
            self.runs.append(Run("config: " + name, ["synth", "-cd", d, "out=" + out, "cases=1", "vertebrae=1"] +
                                 list(extra), rc, [Case(R, what, path if names_file else None, line, needles)],
                                 good=good))

        bad("alias_bomb", "defaults:\n  - _self_\n" + yaml_alias_bomb(), "alias bomb (9^10 strings)")
        bad("nest_seq", "x: " + nested_flow(10000, "seq") + "\n", "10,000 nested lists", line=1)
        bad("nest_map", "x: " + nested_flow(10000, "map") + "\n", "10,000 nested maps", line=1)
        bad("tab", "seed: 1\ndata:\n\tview: axial\n", "tab indentation", line=3)
        bad("unclosed", "seed: 1\nx: [1, 2\ny: 3\n", "unclosed flow list", line=3)
        bad("binary", b"\x00\x01\xff\xfe\x00", "binary bytes")
        bad("top_list", "- a\n- b\n", "top level is a list")
        bad("defaults_int", "defaults: 5\nseed: 1\n", "defaults is not a list")
        bad("unknown_alias", "a: *nope\n", "alias to an unknown anchor", line=1)
        bad("group_file", "view: [unclosed\n", "malformed group option file (data/bad.yaml)", line=2,
            rel="data/bad.yaml", extra=["data=bad"])
        bad("split_file", "split:\n  train_patients: [a, b\n", "malformed split file (split/fold_9.yaml)", line=3,
            rel="split/fold_9.yaml", extra=["split=fold_9"])
        bad("dir space ü/config", "seed: 1\nx: [\n", "malformed config in a folder with spaces and non-ASCII", line=3)
        # Key-level errors: the composed config no longer knows which file a value came from; the key is named.
        bad("big_scalar", "seed: " + "9" * 100000 + "\n", "100 kB number for an int key", needles=["seed"],
            names_file=False)
        bad("big_key", "training:\n  " + "k" * 100000 + ": 1\n", "100 kB key (YAML allows 1024 characters)",
            line=2)
        bad("long_key", "training:\n  " + "k" * 1000 + ": 1\n", "1,000-character key nothing reads (a warning)",
            needles=["training.kkkkkkkk"], names_file=False, rc=0)
        bad("type", "seed: [1, 2]\n", "list where an int belongs", needles=["seed"], names_file=False)
        bad("interp_cycle", "seed: ${seed}\n", "interpolation cycle", needles=["seed"], names_file=False)
        bad("interp_missing", "seed: ${nope.x}\n", "interpolation to a missing key", needles=["nope.x"],
            names_file=False)

    # --- data.yaml ---------------------------------------------------------------------------------------------------
    def data_yaml(self, weights, dataset):
        R = "data-yaml"
        head = "path: %s\ntrain: images/axial\nval: images/axial\n" % json.dumps(dataset)

        def bad(name, text, what, line=None):
            path = self.write(self.p("data yamls", name + ".yaml"), text)
            project = self.p("data yaml runs")
            self.runs.append(Run("data.yaml: " + name, ["val", "weights=" + weights, "data.data_yaml=" + path,
                                                        "project=" + project, "name=" + name], 2,
                                 [Case(R, what, path, line)], good=nothing_at(os.path.join(project, name))))

        bad("alias_bomb", yaml_alias_bomb() + head + "names: *l9\n", "alias bomb as names", line=None)
        bad("nest", head + "names: " + nested_flow(10000) + "\n", "10,000 nested lists", line=4)
        bad("names_list_of_lists", head + "names: [[a], [b]]\n", "names are lists", line=4)
        bad("names_bad_ids", head + "names: {zero: a}\n", "names map with a non-integer id", line=4)
        bad("names_gap", head + "names: {0: a, 2: b}\n", "names ids with a gap")
        bad("names_empty", head + "names: []\n", "names empty")
        bad("nc_mismatch", head + "nc: 3\nnames: [a]\n", "nc: 3 with one name")
        bad("train_map", "path: %s\ntrain: {a: b}\nval: images/axial\nnames: [a]\n" % json.dumps(dataset),
            "train is a map", line=2)
        bad("path_list", "path: [1, 2]\ntrain: images/axial\nval: images/axial\nnames: [a]\n", "path is a list",
            line=1)
        bad("tab", head + "names:\n\t- a\n", "tab indentation", line=5)
        bad("unclosed", head + "names: [a\n", "unclosed flow list", line=5)
        bad("empty", "", "empty file")
        bad("binary", b"\x00\xff\x01", "binary bytes")
        bad("val_missing", head.replace("val: images/axial", "val: images/nope") + "names: [a]\n",
            "val folder does not exist")

    # --- overrides of 100 kB --------------------------------------------------------------------------------------
    def overrides(self, studies):
        R = "override"
        K = 100000

        def bad(name, override, what, needles, cmd="synth", expect_rc=2, accepted=False):
            out = self.p("override out", name)
            argv = [cmd, "out=" + out] + (["cases=1", "vertebrae=1"] if cmd == "synth" else
                                          ["source=" + studies, "crop=none", "image_size=64"]) + [override]
            c = Case(R, what, None, None, needles, expect="accepted" if accepted else "reported")
            good = (lambda _o: [] if os.path.isdir(out) else ["synth wrote nothing"]) if accepted else nothing_at(out)
            self.runs.append(Run("override: " + name, argv, expect_rc, [c], good=good))

        bad("long_string", "data.view=" + "a" * K, "100 kB value for data.view (prepare checks it)", ["view"],
            cmd="prepare")
        bad("long_digits", "seed=" + "9" * K, "100 kB of digits for an int key", ["seed"])
        bad("int_overflow", "seed=99999999999999999999", "integer beyond 64 bits", ["seed"])
        bad("long_float", "training.lr0=0." + "1" * K, "100 kB float", ["training.lr0"], accepted=True,
            expect_rc=0)
        bad("nested_lists", "seed=" + "[" * (K // 2) + "]" * (K // 2), "50,000 nested lists", ["seed"])
        bad("nested_maps", "+x=" + "{a:" * (K // 4) + "1" + "}" * (K // 4), "25,000 nested maps", ["+x"])
        bad("long_key", "k" * K + "=1", "100 kB key", ["kkkk"])
        bad("long_path_key", "a." * (K // 2) + "b=1", "50,000-component key", ["a.a.a"])
        bad("long_interp", "seed=${" + "a." * (K // 2) + "b}", "100 kB interpolation", ["seed"])
        bad("nested_interp", "seed=" + "${oc.decode:" * (K // 13) + "1" + "}" * (K // 13),
            "7,000 nested interpolations", ["seed"])
        bad("unterminated", 'data.view="' + "a" * K, "100 kB unterminated quote", ["data.view"])
        bad("long_list", "data.names=[" + ",".join(["n"] * (K // 2)) + "]", "50,000-item list for data.names",
            ["data.names"], accepted=True, expect_rc=0)
        bad("delete_long", "~" + "a." * (K // 2) + "b", "100 kB delete", ["a.a.a"])


# ------------------------------------------------------------------------------------------------------------------
# Running and checking
# ------------------------------------------------------------------------------------------------------------------


def run_vyolo(vyolo, run, env, mem_limit):
    def limits():
        if mem_limit:
            resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    t0 = time.time()
    try:
        p = subprocess.run([vyolo] + run.argv, cwd=run.cwd, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=run.timeout, preexec_fn=limits)
        rc, out = p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        rc, out = "timeout", e.stdout or b""
    return rc, out.decode("utf-8", "surrogateescape"), time.time() - t0


def check_case(case, run, rc, text, good_errs):
    """The reasons a case fails (empty: it passed) and whether the process crashed."""
    errs, crashed = [], False
    if rc == "timeout":
        errs.append("hung (no exit within %d s)" % run.timeout)
        crashed = True
    elif rc < 0 or rc not in (0, 1, 2):
        errs.append("crashed (exit %s)" % (rc if rc >= 0 else "signal %d" % -rc))
        crashed = True
    marker = next((m for m in CRASH_MARKERS if m in text), None)
    if marker:
        errs.append("crash text in the output: %r" % marker)
        crashed = True
    if not crashed and rc != run.expect_rc:
        errs.append("exit %s, expected %d" % (rc, run.expect_rc))
    if case.expect == "reported":
        if case.path is not None:
            p = fs(case.path)
            if p not in text:
                errs.append("no message names %s" % p)
            elif case.line is not None and "%s:%d" % (p, case.line) not in text:
                errs.append("the message names %s but not line %d" % (p, case.line))
        for n in case.needles:
            if n not in text:
                errs.append("no message names %r" % n)
    elif case.path is not None:
        p = fs(case.path)
        for line in text.splitlines():
            if p in line and COMPLAINT.search(line.replace(p, "")):
                errs.append("a good item was complained about: %s" % line[:300])
                break
    return errs + good_errs, crashed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vyolo", help="the vyolo binary to test")
    ap.add_argument("--out", help="write the corpus and outputs here (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--only", help="run only the cases of readers containing this text (e.g. dicom)")
    ap.add_argument("--mem-limit", type=float, default=8.0,
                    help="address-space limit per vyolo run in GiB (0: none; sanitizer builds need 0)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each run's output")
    args = ap.parse_args()
    vyolo = os.path.abspath(args.vyolo)
    if not os.access(vyolo, os.X_OK):
        print("malformed_inputs: %s is not an executable" % vyolo, file=sys.stderr)
        return 2
    root = os.path.abspath(args.out) if args.out else tempfile.mkdtemp(prefix="vyolo_malformed_")
    if args.out:
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
    env = dict(os.environ)
    env.update({"HOME": os.path.join(root, "home"), "XDG_CACHE_HOME": os.path.join(root, "home", "cache"),
                "GOMP_SPINCOUNT": env.get("GOMP_SPINCOUNT", "1000"), "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "2"),
                "WANDB_MODE": "offline"})
    mem = int(args.mem_limit * (1 << 30)) if args.mem_limit > 0 else 0
    t_start = time.time()
    try:
        return check_all(vyolo, root, env, mem, args)
    finally:
        if args.out or args.keep:
            print("malformed_inputs: corpus and outputs kept in %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
        print("malformed_inputs: %.0f s" % (time.time() - t_start))


def check_all(vyolo, root, env, mem, args):
    c = Corpus(vyolo, root)
    os.makedirs(env["HOME"], exist_ok=True)
    results = []  # (case, errs, crashed, run)
    times = []  # (seconds, run name)

    def execute(runs, needed=False):
        """Runs and checks; with --only, the runs of other readers are left out unless `needed` (setup)."""
        for run in runs:
            selected = [case for case in run.cases if not args.only or args.only in case.reader]
            if not selected and not needed:
                continue
            rc, text, secs = run_vyolo(vyolo, run, env, mem)
            times.append((secs, run.name))
            if args.verbose:
                print("---- %s (exit %s, %.1f s)\n%s" % (run.name, rc, secs, text[-3000:]))
            good_errs = []
            if run.good and rc != "timeout":
                try:
                    good_errs = run.good(text)
                except Exception as e:  # a malformed output file is a failure, not a checker crash
                    good_errs = ["cannot check the good items: %s" % e]
            for case in selected:
                errs, crashed = check_case(case, run, rc, text, good_errs)
                results.append((case, errs, crashed, run))
                print("%s  %-13s %s%s" % ("PASS" if not errs else "FAIL", case.reader, case.what,
                                          "" if not errs else "\n        " + "\n        ".join(errs)))
                sys.stdout.flush()
        del runs[:]

    # 1. Studies -> prepare (its good cases become the training set of the model the other readers need).
    dataset = c.prepare_nifti()
    execute(c.runs, needed=True)
    c.prepare_dicom()
    execute(c.runs)
    # 2. A small model from the prepared good cases (setup, not a case).
    runs_dir = os.path.join(root, "train")
    setup = ["train", "data.data_yaml=" + os.path.join(dataset, "data.yaml"), "data.image_size=64", "model.img_size=64",
             "training.epochs=1", "data.batch_size=8", "data.num_workers=1", "logging.log_dir=" + runs_dir,
             "logging.experiment_name=m"]
    weights = os.path.join(runs_dir, "m", "fold_0", "weights", "best.safetensors")
    if not os.path.exists(os.path.join(dataset, "data.yaml")):
        print("malformed_inputs: setup failed: prepare wrote no data.yaml; cannot go on", file=sys.stderr)
        return summary(results, times, setup_failed=True)
    p = subprocess.run([vyolo] + setup, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0 or not os.path.exists(weights):
        print("malformed_inputs: setup failed: training the test model:\n%s" %
              p.stdout.decode(errors="replace")[-3000:], file=sys.stderr)
        return summary(results, times, setup_failed=True)
    # Weights at a path with spaces and non-ASCII characters (used by every run below).
    w2 = os.path.join(root, "model dir ü", "wéights 1.safetensors")
    os.makedirs(os.path.dirname(w2))
    shutil.copy(weights, w2)
    # 3. Everything else.
    c.val_dataset(w2)
    c.predict_images(w2)
    c.volumes(w2)
    c.safetensors(weights)
    c.config_yaml()
    c.data_yaml(w2, dataset)
    c.overrides(c.p("studies eval"))
    execute(c.runs)

    return summary(results, times)


def summary(results, times, setup_failed=False):
    readers = {}
    for case, errs, crashed, _ in results:
        r = readers.setdefault(case.reader, [0, 0])
        r[0] += 1
        r[1] += not errs
    if times:
        print("\nslowest runs: " + ", ".join("%s %.1f s" % (n, t) for t, n in sorted(times, reverse=True)[:5]))
    print("per reader: " + ", ".join("%s %d/%d" % (k, v[1], v[0]) for k, v in readers.items()))
    passed = sum(1 for _, e, _, _ in results if not e)
    crashes = len({id(run) for _, _, crashed, run in results if crashed})
    print("malformed inputs: %d of %d reported correctly, %d crashes%s" %
          (passed, len(results), crashes, " (setup failed: the other readers were not run)" if setup_failed else ""))
    return 0 if passed == len(results) and results and not setup_failed else 1


if __name__ == "__main__":
    sys.exit(main())
