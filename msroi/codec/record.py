"""The record of one written JPEG: what every compression driver returns, for the CLI's
``--json`` and the workflow's records tables alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

#: Sampling factors of the luma component -> chroma subsampling name (chroma at 1x1).
_SAMPLING = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0"}


@dataclass(frozen=True)
class Record:
    """One output JPEG: its settings and what was measured on the file written.

    ``subsampling`` and ``progressive`` are read from the file itself (:func:`jpeg_layout`);
    ``bytes`` is the file's size, metadata included; ``budget_bytes`` is the budget of the
    image data plus ``metadata_bytes`` (the metadata is added to the output and to the
    baseline alike). ``ratio`` and ``smooth`` are the semantic method's, None otherwise.
    """

    method: str
    base_quality: int
    threshold_pct: float
    bytes: int
    final_quality: int
    width: int
    height: int
    subsampling: str
    progressive: bool
    optimize: bool | None
    fits_budget: bool = True
    base_bytes: int | None = None
    budget_bytes: int | None = None
    selection: int = 0
    ratio: float | None = None
    smooth: float | None = None
    metadata_bytes: int = 0

    def as_dict(self) -> dict:
        """The record as a flat dict; settings that do not apply (None) are left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __getitem__(self, key):
        return self.as_dict()[key]


def jpeg_layout(data: bytes) -> dict:
    """``{"subsampling", "progressive"}`` of a JPEG file, read from its frame header.

    Takes the file's bytes; raises ValueError when no frame header is found.
    """
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            ncomp = data[i + 9]
            h, v = data[i + 11] >> 4, data[i + 11] & 15
            sub = _SAMPLING.get((h, v), f"{h}x{v}") if ncomp == 3 else "grey"
            return {"subsampling": sub, "progressive": marker == 0xC2}
        i += 2 + length
    raise ValueError("no JPEG frame header found")


def make_record(data: bytes, *, method: str, base_quality: int, final_quality: int, width: int, height: int,
                optimize: bool | None, threshold_pct: float = 0.0, **settings) -> Record:
    """A :class:`Record` for the JPEG ``data`` written with these settings; the layout and
    the size come from the bytes."""
    return Record(method=method, base_quality=int(base_quality), threshold_pct=float(threshold_pct),
                  bytes=len(data), final_quality=int(final_quality), width=int(width), height=int(height),
                  optimize=optimize, **jpeg_layout(data), **settings)


def attach_metadata(data: bytes, baseline: bytes | None, record: Record, metadata) -> tuple[bytes, bytes | None, Record]:
    """Carry ``metadata`` (:class:`msroi.files.ImageMetadata` or None) into the output and
    the baseline; returns ``(data, baseline, record)`` with sizes updated."""
    from msroi.files import add_metadata

    if metadata is None:
        return data, baseline, record
    out = add_metadata(data, metadata)
    extra = len(out) - len(data)
    if extra == 0:
        return data, baseline, record
    changes = dict(bytes=len(out), metadata_bytes=extra)
    if baseline is not None:
        baseline = add_metadata(baseline, metadata)
        changes["base_bytes"] = len(baseline)
    if record.budget_bytes is not None:
        changes["budget_bytes"] = record.budget_bytes + extra
    return out, baseline, replace(record, **changes)
