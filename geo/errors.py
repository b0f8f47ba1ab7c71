"""Exceptions raised by the analysis core.

Every error carries a message a user can act on.  Validation errors also carry the individual
problems (file, row, column, value, reason) so that a report can list all of them at once.

Messages meant for field teams are written in Indonesian, the interface's default language, as a
template marked with :func:`N_` (``InputFileError.translatable(N_("'%(file)s' kosong."),
file=name)``): ``message`` is the Indonesian text, and ``template`` and ``params`` let the web layer
show it in the user's language from the translation catalogue (``webmap.errors.user_message``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Self


def N_(text: str) -> str:  # noqa: N802 (the gettext convention, a keyword of the extractor)
    """Mark an Indonesian message template for the translation catalogue; return it unchanged."""
    return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can.

    ``row`` is the line number a spreadsheet shows (the header is row 1), or ``None`` for
    file-level problems; ``feature`` is the 1-based feature index in vector files.
    """

    reason: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        """Return the problem as a JSON-ready dict."""
        data = asdict(self)
        if data["value"] is not None and not isinstance(data["value"], (int, float, bool)):
            data["value"] = str(data["value"])
        return data

    def __str__(self) -> str:
        where = [p for p in (
            self.file,
            f"row {self.row}" if self.row is not None else None,
            f"column '{self.column}'" if self.column else None,
            f"value {self.value!r}" if self.value is not None else None,
        ) if p]
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class PetakotaError(Exception):
    """Base class of all petakota errors; ``str(err)`` is safe to show to a user."""

    def __init__(self, message: str, problems: list[Problem] | None = None, *,
                 template: str | None = None, params: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])
        self.template = template
        self.params = dict(params or {})

    @classmethod
    def translatable(cls, template: str, problems: list[Problem] | None = None,
                     **params: Any) -> Self:
        """The error with the message ``template % params`` (Indonesian), kept translatable.

        ``template`` is a text marked with :func:`N_` using ``%(name)s`` placeholders.
        """
        return cls(template % params, problems, template=template, params=params)

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = [self.message] + [f"  - {p}" for p in self.problems[:50]]
        if len(self.problems) > 50:
            lines.append(f"  ... and {len(self.problems) - 50} more")
        return "\n".join(lines)


class InputFileError(PetakotaError):
    """A whole file was rejected (unreadable, unknown format, missing columns, too large...)."""


class BoundaryError(PetakotaError):
    """A boundary file cannot be imported (duplicate codes, empty or non-polygon features...)."""


class CRSError(PetakotaError):
    """Coordinates are missing a CRS, or do not fit the CRS they declare."""


class NotFoundError(PetakotaError):
    """A city, kelurahan, upload or other named object does not exist."""


class SitingError(PetakotaError):
    """A siting model cannot be built or solved as asked (no eligible candidate, too few sites...).

    The message says what to change: more sites, a longer service distance, other candidates.
    """
