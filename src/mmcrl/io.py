"""Deterministic, atomic file output and derived seeds.

Every output is written to a temporary file in the target directory and renamed into place, so a killed job never
leaves a half-written file that looks finished. Archives are written without timestamps so that the same content
gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_UMASK = os.umask(0)
os.umask(_UMASK)


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from the parts' string forms (e.g. experiment, dataset, method, seed): sha256, first 8 bytes."""
    digest = hashlib.sha256("/".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(handle)`` on a temporary file next to ``path``, fsync it, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, payload: Any) -> Path:
    """Write ``payload`` as sorted, indented JSON (stable bytes for equal content)."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n"
    return atomic_write(path, lambda stream: stream.write(text.encode()))


def read_json(path: str | Path) -> Any:
    """Read a JSON file; a missing or corrupt file raises ``ValueError`` naming it."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as error:
        raise ValueError(f"{path}: file not found") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from error


def write_arrays(path: str | Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write named arrays as an ``.npz`` archive readable by ``np.load``, with fixed timestamps (byte-stable)."""

    def write(stream: io.BufferedWriter) -> None:
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
            for name in sorted(arrays):
                buffer = io.BytesIO()
                np.save(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
                archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_ZIP_TIME), buffer.getvalue())

    return atomic_write(path, write)


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read an archive written by :func:`write_arrays`; a missing or corrupt file raises ``ValueError`` naming it."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError as error:
        raise ValueError(f"{path}: file not found") from error
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable array archive ({error})") from error


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
