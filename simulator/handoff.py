"""Whole-file hand-off: a file appears under its final name only when it is complete.

The status file is written to a hidden temp name in its output folder and renamed when
complete. Handing it to a spooling directory renames it again (same filesystem: atomic,
and never over an existing file); across filesystems it is copied to a hidden
``.<name>.partial`` inside the spool folder first, then renamed. A spooldir source must
therefore ignore names starting with ``.`` (Flume: ``ignorePattern = ^\\..*``).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path


def temp_name(final: Path) -> Path:
    """The hidden temp name a file is written under before it gets ``final``."""
    return final.with_name(f".{final.name}.tmp")


def publish(tmp: Path, final: Path) -> Path:
    """Rename the finished ``tmp`` to ``final`` (replacing an older output)."""
    os.replace(tmp, final)
    return final


def _no_clobber_rename(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` atomically, failing if ``dst`` exists."""
    try:
        os.link(src, dst)  # atomic, and raises FileExistsError instead of replacing
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            raise
        if dst.exists():  # a filesystem without hard links: check, then rename
            raise FileExistsError(errno.EEXIST, "file exists", str(dst)) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def check_free(spool_dir: Path, name: str) -> None:
    """Raise FileExistsError if ``spool_dir`` holds ``name`` or its ``.COMPLETED`` form.

    Flume's spooldir source refuses a re-used file name.
    """
    dst = spool_dir / name
    for taken in (dst, dst.with_name(name + ".COMPLETED")):
        if taken.exists():
            raise FileExistsError(errno.EEXIST, "already in the spool folder", str(taken))


def hand_off(path: Path, spool_dir: Path) -> Path:
    """Move the complete file ``path`` into ``spool_dir`` so it appears there whole.

    Raises FileExistsError if the name is taken there (see :func:`check_free`).
    """
    check_free(spool_dir, path.name)
    dst = spool_dir / path.name
    try:
        _no_clobber_rename(path, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        partial = spool_dir / f".{path.name}.partial"
        try:
            with open(path, "rb") as src, open(partial, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            _no_clobber_rename(partial, dst)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        path.unlink()
    return dst
