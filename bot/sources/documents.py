"""A folder of CVs and profiles: PDF (pypdf), DOCX (python-docx), ODT (its content.xml) and
plain text, matched on the person's name, email addresses and phone numbers (each whole).
A file with their address or number and no one else's address is theirs: an approved
erasure moves it to the holding folder, or deletes it, as configured. A file that only
names them, or names others' addresses too, only mentions them: listed, never erased."""

from __future__ import annotations

import base64
import mimetypes
import shutil
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from bot.channels.messages import Attachment
from bot.config import DocumentsSource
from bot.sources.base import Found, Person, SourceError, is_about_only, mentions

TEXT_SUFFIXES = {".txt", ".md", ".csv", ".text"}
SUFFIXES = {".pdf", ".docx", ".odt", *TEXT_SUFFIXES}
#: Longest text read from one file: enough for any CV, bounded for any file.
MAX_TEXT = 2_000_000
#: A DOCX or ODT is a zip: max_bytes bounds only its compressed size. Unpacked, its XML is
#: parsed whole in memory (tens of bytes per byte of XML), so each XML part, the whole
#: unpacked archive and the packing ratio are bounded before anything is parsed.
MAX_XML_PART = 4_000_000
MAX_UNPACKED = 60_000_000
MAX_RATIO = 100


class UnsafeDocument(ValueError):
    """A document refused unread: it would take more memory than any CV (fixed words)."""


def check_zip(path: Path) -> None:
    """Refuse a DOCX/ODT that would unpack into more than a CV ever needs (a zip bomb):
    raises ValueError before a byte is inflated."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    if sum(m.file_size for m in members) > MAX_UNPACKED:
        raise UnsafeDocument("unpacks too large; a zip bomb?")
    for member in members:
        if member.filename.lower().endswith((".xml", ".rels")) and (
            member.file_size > MAX_XML_PART
        ):
            raise UnsafeDocument("an XML part too large; a zip bomb?")
        if member.file_size > 1_000_000 and member.file_size > MAX_RATIO * max(
            member.compress_size, 1
        ):
            raise UnsafeDocument("packed too tightly; a zip bomb?")


def document_text(path: Path) -> str:
    """The text of one document; raises ValueError for a file that cannot be read."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader

        reader = PdfReader(str(path))
        parts, size = [], 0
        for page in reader.pages:
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
            if size > MAX_TEXT:
                break
        return "\n".join(parts)[:MAX_TEXT]
    if suffix in (".docx", ".odt"):
        check_zip(path)
    if suffix == ".docx":
        import docx

        document = docx.Document(str(path))
        texts = [p.text for p in document.paragraphs]
        for table in document.tables:
            texts.extend(cell.text for row in table.rows for cell in row.cells)
        return "\n".join(texts)[:MAX_TEXT]
    if suffix == ".odt":
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("content.xml")
            root = ElementTree.fromstring(archive.read(info))
        return "\n".join(t for t in root.itertext())[:MAX_TEXT]
    with path.open(encoding="utf-8", errors="replace") as handle:
        return handle.read(MAX_TEXT)


class DocumentsFolder:
    def __init__(self, config: DocumentsSource):
        self.config = config
        self.name = config.name
        self.folder = Path(config.folder)

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            raise SourceError(f"{self.name}: the folder {self.config.folder} is not there")
        holding = Path(self.config.holding_folder).resolve() if self.config.holding_folder else None
        files = []
        for path in sorted(self.folder.rglob("*")):
            if holding is not None and holding in path.resolve().parents:
                continue  # what an erasure already moved aside is not held for use
            if path.is_file() and path.suffix.lower() in SUFFIXES:
                files.append(path)
        return files

    def find(self, person: Person) -> list[Found]:
        found = []
        for path in self._files():
            relative = str(path.relative_to(self.folder))
            if path.stat().st_size > self.config.max_bytes:
                raise SourceError(
                    f"{self.name}: {relative} is larger than max_bytes; check it by hand"
                )
            try:
                text = document_text(path)
            except UnsafeDocument as exc:
                raise SourceError(
                    f"{self.name}: {relative} cannot be read ({exc}); check it by hand"
                ) from None
            except Exception as exc:  # a damaged file: said, never silently skipped
                raise SourceError(
                    f"{self.name}: {relative} cannot be read ({type(exc).__name__}); "
                    "check it by hand"
                ) from None
            hits = mentions(text, person)
            if not hits:
                continue
            # Clearly about the person: their name with their address or number, and no one
            # else's. Otherwise (a reference in someone else's CV) it only mentions them:
            # listed for staff, never attached or erased.
            about = is_about_only(text, person, hits)
            found.append(
                Found(
                    relative,
                    path.relative_to(self.folder).as_posix(),
                    self.config.category,
                    erasable=about,
                    details=() if about else (("match", "mentions"),),
                )
            )
        return found

    def _path(self, ref: str) -> Path:
        path = (self.folder / ref).resolve()
        if self.folder.resolve() not in path.parents:
            raise SourceError(f"{self.name}: {ref} is outside the folder")
        return path

    def erase(self, ref: str) -> str:
        path = self._path(ref)
        if not path.exists():
            raise SourceError(f"{self.name}: {ref} is no longer there")
        try:
            if self.config.erase == "delete":
                path.unlink()
                return f"{ref} deleted"
            if self.config.holding_folder is None:
                raise SourceError(f"{self.name}: erase = 'move' needs a holding_folder")
            target = Path(self.config.holding_folder) / ref
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target = target.with_name(f"{target.stem}-{path.stat().st_ino}{target.suffix}")
            shutil.move(str(path), str(target))
            return f"{ref} moved to {self.config.holding_folder}"
        except OSError as exc:
            raise SourceError(f"{self.name}: {ref}: {exc.strerror or exc}") from None

    def attachment(self, ref: str) -> Attachment | None:
        path = self._path(ref)
        if not path.is_file():
            return None
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Attachment(
            path.name, content_type, base64.b64encode(path.read_bytes()).decode(), "base64"
        )
