"""Where input files live: a local path or any URI pyarrow (or fsspec) can open, and the input fingerprint."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from curation.readers.errors import InputError
from tomecraft.errors import error_line
from tomecraft.files import expand_user


def resolve_filesystem(spec: str):
    """``(filesystem, path)`` for a local path or a URI (pyarrow's own schemes first, then fsspec's). A URI whose
    file system cannot be set up (a scheme no library knows, its package not installed, a store that cannot be
    reached to find its region, no Java for HDFS) is one :class:`InputError` naming it."""
    from pyarrow import fs as pafs

    if "://" not in spec:
        return pafs.LocalFileSystem(), str(expand_user(spec).absolute())
    refused = None
    try:
        return pafs.FileSystem.from_uri(_with_gcs_retry_limit(spec))
    except ValueError as exc:  # pyarrow.ArrowInvalid: a scheme pyarrow does not know, or a query it does not take
        refused = error_line(exc)  # ("Unexpected query parameter in GCS URI: 'anonymous'"); fsspec may read it
    except Exception as exc:  # (S3 looks its bucket's region up: OSError when it cannot be reached)
        raise InputError(f"{spec}: cannot reach it: {error_line(exc)}") from None
    try:
        import fsspec
    except ImportError:
        raise InputError(f"{spec}: unknown filesystem scheme (install fsspec and its backend for it)") from None
    scheme = spec.split("://", 1)[0]
    try:
        fs, path = fsspec.core.url_to_fs(spec)
    except ImportError as exc:  # a scheme fsspec knows, whose package is not installed ("Install adlfs to ...")
        if refused is not None and "query parameter" in refused:  # pyarrow's scheme: its reason is the one to say
            raise InputError(f"{spec}: {refused}") from None
        raise InputError(f"{spec}: cannot read {scheme}:// paths here: {error_line(exc)}") from None
    except ValueError as exc:
        if "Protocol not known" in str(exc):
            raise InputError(f"{spec}: unknown file system scheme {scheme!r} (pyarrow and fsspec know neither)") \
                from None
        raise InputError(f"{spec}: {error_line(exc)}") from None
    except Exception as exc:  # a file system set up by connecting (ftp://, sftp://): it cannot be reached
        raise InputError(f"{spec}: cannot reach it: {error_line(exc)}") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


# how long Google Cloud Storage requests are retried: the client's own default is 15 minutes, which a store that
# cannot be reached (offline, a name that resolves nowhere) spends with nothing said; with its backoff, 30 s of
# retries end there in about 45 s
GCS_RETRY_SECONDS = 30


def _with_gcs_retry_limit(uri: str) -> str:
    """A ``gs://`` URI with pyarrow's ``retry_limit_seconds`` (:data:`GCS_RETRY_SECONDS`) unless it gives one."""
    if not uri.lower().startswith(("gs://", "gcs://")) or "retry_limit_seconds=" in uri:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}retry_limit_seconds={GCS_RETRY_SECONDS}"


def remote_kind(fs, path: str, uri: str) -> str:
    """:func:`file_kind` of a URI's path, where a store that cannot be reached is one :class:`InputError` naming
    ``uri`` (``httpx``'s errors, which ``hf://`` raises, are no ``OSError``). fsspec's HTTP file system says a
    server it cannot reach, or one that refuses the file (403, 500), holds no such file: the cause it kept says
    which."""
    try:
        kind = file_kind(fs, path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{uri}: cannot reach it: {error_line(exc)}") from None
    if kind == "missing":
        problem = _why_missing(fs, path)
        if problem is not None:
            raise InputError(f"{uri}: {problem}")
    return kind


def _why_missing(fs, path: str) -> str | None:
    """Why an fsspec file system says ``path`` is missing, where that is not a plain "no such file": the
    server's answer other than 404, or why it could not be reached."""
    inner = getattr(getattr(fs, "handler", None), "fs", None)  # (pyarrow's wrapper of an fsspec file system)
    if inner is None:
        return None
    try:
        inner.info(path)
    except FileNotFoundError as exc:
        cause = exc.__cause__
        if cause is None or isinstance(cause, FileNotFoundError):
            return None
        status = getattr(cause, "status", None)
        if status == 404 or status == 410:
            return None
        if isinstance(status, int):
            return f"the server answered {status} {getattr(cause, 'message', '') or ''}".rstrip()
        return f"cannot reach it: {error_line(cause)}"
    except Exception as exc:
        return f"cannot reach it: {error_line(exc)}"
    return None


def shown_name(name: str) -> str:
    """A file name as text that prints: the bytes of a name that is not UTF-8 (held by Python as lone surrogates)
    as ``\\xff`` escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def not_utf8_name(path: str) -> str:
    """The error line for a file whose name is not UTF-8."""
    return f"{shown_name(path)}: the file name is not UTF-8; rename it (Arrow, which reads the files, takes UTF-8 names only)"


def _not_utf8(path: str) -> InputError:
    return InputError(not_utf8_name(path))


def file_kind(fs, path: str) -> str:
    """``file``, ``dir`` or ``missing``."""
    from pyarrow import fs as pafs

    try:
        info = fs.get_file_info(path)
    except UnicodeError:  # a name of bytes that are not UTF-8 (lone surrogates in Python's str)
        raise _not_utf8(path) from None
    if info.type == pafs.FileType.Directory:
        return "dir"
    if info.type == pafs.FileType.File:
        return "file"
    return "missing"


def list_folder(fs, path: str) -> list[str]:
    """Names of the files directly inside a folder, sorted; hidden ones (``.name``: macOS's ``._shard.jsonl``
    resource forks, editors' and Spark's side files) left out, as a walk of nested folders leaves them out
    (:func:`curation.sources.expand`)."""
    from pyarrow import fs as pafs

    try:
        entries = fs.get_file_info(pafs.FileSelector(path, recursive=False))
        names = [PurePosixPath(e.path).name for e in entries if e.type == pafs.FileType.File]
    except UnicodeError:  # a file in it whose name is not UTF-8: name it
        raise _not_utf8(_first_not_utf8(path) or path) from None
    return sorted(name for name in names if not name.startswith("."))


def _first_not_utf8(folder: str) -> str | None:
    """The path of the first file directly in a local ``folder`` whose name is not UTF-8, or None."""
    import os

    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    for name in names:
        try:
            name.encode("utf-8")
        except UnicodeError:
            return os.path.join(folder, name)
    return None


def fingerprint_files(fs, paths: list[str]) -> str:
    """XXH3-128 over each file's name and bytes as stored (a compressed file is not decompressed), in order (the
    input fingerprint in the manifest). A fingerprint tells inputs apart (checkpoints, the ``--against`` index
    cache); it is no signature, and XXH3 reads about twenty times faster than SHA-256."""
    import xxhash

    digest = xxhash.xxh3_128()
    for path in paths:
        digest.update(PurePosixPath(path).name.encode())
        try:
            with fs.open_input_stream(path, compression=None) as fh:
                while True:
                    chunk = fh.read(1 << 20)
                    if not chunk:
                        break
                    digest.update(chunk)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc}") from None
    return "xxh3-128:" + digest.hexdigest()


def open_remote_stream(fs, path: str, compression: str | None):
    """``fs.open_input_stream(path, compression=compression)`` for a file that is not local; ``xz``, which
    pyarrow's streams have no codec for, as a local xz file is read (:class:`curation.readers.xz.XzStreams`:
    every stream, padding between them skipped)."""
    if compression != "xz":
        return fs.open_input_stream(path, compression=compression)
    import io

    from curation.readers.xz import XzStreams

    return io.BufferedReader(XzStreams(fs.open_input_stream(path, compression=None)))
