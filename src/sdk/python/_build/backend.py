"""An in-tree PEP 517 build backend for the brig SDK, standard library only.

`pip install src/sdk/python` works offline with it: pip's isolated build
environment needs no setuptools from an index. It builds a pure-Python wheel
of the `brig` package from the [project] table of pyproject.toml.
"""
import base64
import hashlib
import os
import re
import zipfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TAG = "py3-none-any"


def _project():
    """The keys of pyproject.toml's [project] table this backend uses."""
    with open(os.path.join(_ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    table = text.split("[project]", 1)[1].split("\n[", 1)[0]
    keys = dict(re.findall(r'^([A-Za-z-]+)\s*=\s*"([^"]*)"', table, re.M))
    return keys["name"], keys["version"], keys.get("description", ""), keys.get("requires-python", "")


def _metadata():
    name, version, summary, python = _project()
    lines = ["Metadata-Version: 2.1", "Name: " + name, "Version: " + version, "Summary: " + summary]
    if python:
        lines.append("Requires-Python: " + python)
    return name, version, "\n".join(lines) + "\n"


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, metadata = _metadata()
    dist_info = "%s-%s.dist-info" % (name, version)
    wheel_name = "%s-%s-%s.whl" % (name, version, _TAG)
    files = []
    package = os.path.join(_ROOT, "brig")
    for entry in sorted(os.listdir(package)):
        if entry.endswith(".py") or entry == "py.typed":
            with open(os.path.join(package, entry), "rb") as f:
                files.append(("brig/" + entry, f.read()))
    files.append((dist_info + "/METADATA", metadata.encode()))
    files.append((dist_info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: brig-sdk-backend\n"
                                          "Root-Is-Purelib: true\nTag: %s\n" % _TAG).encode()))
    record = [_record_line(p, d) for p, d in files] + [dist_info + "/RECORD,,"]
    files.append((dist_info + "/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            z.writestr(path, data)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    import tarfile

    name, version, _ = _metadata()
    base = "%s-%s" % (name, version)
    out = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, out), "w:gz") as t:
        for rel in ["pyproject.toml", "_build/backend.py"] + ["brig/" + e for e in sorted(os.listdir(os.path.join(_ROOT, "brig")))
                                                               if e.endswith(".py") or e == "py.typed"]:
            t.add(os.path.join(_ROOT, rel), arcname=base + "/" + rel)
    return out
