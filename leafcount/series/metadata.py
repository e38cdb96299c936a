"""The experiment's own table (genotype, treatment, replicate ...) joined into every row.

``plants.csv`` is keyed by its first column among :data:`KEY_COLUMNS`:
``plant`` (the series' plant, ``plant040`` or ``tray1_B3``), ``position``
(a tray position, ``B3``, the same in every tray) or ``image`` (a photo's
file name). Its other columns are copied as they are into the rows they key.
Plants in the images but not in the table, and rows of the table that
match nothing, are each named in one message: a typo in a plant name
must not silently drop a genotype from the curves.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from leafcount.errors import ConfigError

KEY_COLUMNS = ("plant", "position", "image")


@dataclass(frozen=True)
class Metadata:
    """A metadata table: its key column, its other columns and their values by key."""

    path: Path
    key: str
    columns: tuple[str, ...]
    rows: dict[str, dict[str, str]]

    def values_for(self, row: dict[str, object]) -> dict[str, str]:
        """The metadata of a table row (keyed by the row's ``key`` value); blanks when unknown."""
        found = self.rows.get(str(row.get(self.key, "")))
        return {column: found[column] if found else "" for column in self.columns}

    def mismatches(self, keys: Iterable[str]) -> list[str]:
        """One message for the keys of the series missing from the table, one for the reverse."""
        seen = {key for key in keys if key}
        messages = []
        missing = sorted(seen - set(self.rows))
        if missing:
            messages.append(f"{self.path.name}: no row for {self.key} {', '.join(missing)}; "
                            "their metadata cells are left empty")
        unused = sorted(set(self.rows) - seen)
        if unused:
            messages.append(f"{self.path.name}: {self.key} {', '.join(unused)} not in the images; those rows are unused")
        return messages


def read_metadata(path: str | Path, reserved: Iterable[str] = ()) -> Metadata:
    """Read the table; ``reserved`` are column names the output already has.

    Raises
    ------
    ConfigError
        When the file cannot be read, has no key column, repeats a key, or has
        a column that would overwrite one of ``reserved``.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # utf-8-sig: a spreadsheet's byte-order mark
            reader = csv.DictReader(f)
            header = [name.strip() for name in reader.fieldnames or []]
            records = [{(k or "").strip(): (v or "").strip() for k, v in record.items()} for record in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"cannot read the metadata table ({exc})", path) from exc
    key = next((name for name in KEY_COLUMNS if name in header), None)
    if key is None:
        raise ConfigError(f"needs a column named {' or '.join(KEY_COLUMNS)}; found {', '.join(header) or 'none'}", path)
    columns = tuple(name for name in header if name and name != key and name not in KEY_COLUMNS)
    clashes = sorted(set(columns) & set(reserved))
    if clashes:
        raise ConfigError(f"column {', '.join(clashes)} would overwrite a column leafcount writes; rename it", path)
    rows: dict[str, dict[str, str]] = {}
    for line, record in enumerate(records, start=2):
        value = record.get(key, "")
        if not value:
            continue
        if value in rows:
            raise ConfigError(f"{key} {value!r} appears twice (line {line} repeats it)", path)
        rows[value] = {column: record.get(column, "") for column in columns}
    return Metadata(path, key, columns, rows)
