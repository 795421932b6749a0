"""Turn a kline file's bytes into text, whatever wrapper it came in.

The wrapper is detected from magic bytes, not the suffix, because downloads get renamed and
a `.csv` that is really gzip (or a `.gz` that is plain text) should still import. Binance's
public dumps arrive as one-member zip archives, freqtrade users have feather/parquet files,
and copies interrupted half-way leave truncated gzip streams: each gets an error that says
what the file is and what to do, with the line where readable text stopped.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from slt.data.errors import DataImportError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"
_FEATHER_MAGIC = b"ARROW1"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class SourceText:
    """Decoded text of a kline file and the name that describes its contents.

    `name` is the zip member's name for zip archives (the archive may have been renamed, the
    member rarely is) and the file's own name otherwise; symbol/interval are inferred from it.
    """

    text: str
    name: str
    compression: str  # "gzip", "zip" or "none"


def read_source(path: Path) -> SourceText:
    """Read *path* and return its text; every failure is a `DataImportError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataImportError(path, "file not found", "check the path") from None
    except IsADirectoryError:
        raise DataImportError(path, "is a directory", "pass the CSV files inside it") from None
    except OSError as exc:
        raise DataImportError(path, f"cannot read the file ({exc.strerror})", "check it") from None
    return decode_bytes(raw, str(path), path.name)


def decode_bytes(raw: bytes, source: str, name: str) -> SourceText:
    """Unwrap gzip/zip by magic bytes and decode UTF-8 (a leading BOM is dropped)."""
    if raw.startswith(GZIP_MAGIC):
        return SourceText(_to_text(_gunzip(raw, source), source), name, "gzip")
    if raw.startswith(ZIP_MAGIC):
        member, data = _unzip(raw, source)
        return SourceText(_to_text(data, source), member, "zip")
    if raw.startswith(_PARQUET_MAGIC) or raw.startswith(_FEATHER_MAGIC):
        raise DataImportError(
            source,
            "is a Parquet/Feather file, not CSV",
            "convert it to CSV with columns open_time,open,high,low,close,volume",
            line=1,
        )
    return SourceText(_to_text(raw, source), name, "none")


def _gunzip(raw: bytes, source: str) -> bytes:
    """Decompress every gzip member, reporting where a truncated or corrupt stream stops."""
    out = bytearray()
    rest = raw
    while rest:
        if not rest.startswith(GZIP_MAGIC):
            if rest.strip(b"\x00"):
                raise DataImportError(
                    source,
                    "unexpected bytes after the gzip data",
                    "re-download the file or re-compress it with gzip",
                    line=out.count(b"\n") + 1,
                )
            break
        stream = zlib.decompressobj(wbits=31)
        pos = 0
        while not stream.eof and pos < len(rest):
            try:
                out += stream.decompress(rest[pos : pos + _CHUNK])
            except zlib.error as exc:
                complete = out.count(b"\n")
                raise DataImportError(
                    source,
                    f"corrupt gzip data ({exc}); the last complete line is {complete}",
                    "re-download the file; `gzip -t FILE` checks an archive",
                    line=complete + 1,
                ) from None
            pos += _CHUNK
        if not stream.eof:
            complete = out.count(b"\n")
            raise DataImportError(
                source,
                f"gzip data ends early (truncated file); the last complete line is {complete}",
                "re-download or re-copy the file; `gzip -t FILE` checks an archive",
                line=complete + 1,
            )
        rest = stream.unused_data
    return bytes(out)


def _unzip(raw: bytes, source: str) -> tuple[str, bytes]:
    """Read the single CSV member of a zip archive (the shape of Binance's public dumps)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
            if len(members) != 1:
                raise DataImportError(
                    source,
                    f"zip archive holds {len(members)} files, expected exactly one CSV",
                    "extract the archive and import the CSV files inside it",
                )
            return Path(members[0].filename).name, archive.read(members[0])
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DataImportError(
            source, f"corrupt zip archive ({exc})", "re-download the file"
        ) from None


def _to_text(data: bytes, source: str) -> str:
    """Decode UTF-8, refusing binary content with the line it was found on."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DataImportError(
            source,
            "binary content, not a CSV text file",
            "pass a kline CSV (plain, .gz or .zip)",
            line=data.count(b"\n", 0, nul) + 1,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataImportError(
            source,
            "bytes that are not UTF-8 text",
            "pass a kline CSV (plain, .gz or .zip) saved as UTF-8",
            line=data.count(b"\n", 0, exc.start) + 1,
        ) from None
    return text.replace("\r\n", "\n") if "\r" in text else text
