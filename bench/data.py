"""The benchmark's data set: a CSV of workers as an organiser would upload it.

Columns `name,id_number,occupation,locality_code,grade` (no enterprise: the workers are placed
by locality, one of Shandong's 16 cities). Identity numbers are valid (GB 11643 check digit)
and distinct; everything comes from a seeded `random.Random`, so a size always gives the same
file.
"""

from __future__ import annotations

import csv
import random
from itertools import islice
from pathlib import Path

from tests.factories import chinese_name, identity_number

COLUMNS = ["name", "id_number", "occupation", "locality_code", "grade"]
CITY_CODES = [
    "370100",
    "370200",
    "370300",
    "370400",
    "370500",
    "370600",
    "370700",
    "370800",
    "370900",
    "371000",
    "371100",
    "371300",
    "371400",
    "371500",
    "371600",
    "371700",
]
OCCUPATIONS = ["数控车工", "焊工", "电工", "钳工", "汽车维修工", "化工总控工", "育婴员", "砌筑工"]
GRADES = ["apprentice", "junior", "intermediate", "senior", "technician", "senior_technician"]
#: Name fragments the search benchmark cycles through (surnames, given names, full names).
SEARCH_TERMS = ["王", "李", "张伟", "建国", "李娜", "志强", "王芳", "刘", "海燕", "陈晓", "秀英"]


def write_workers_csv(path: Path, rows: int, seed: int = 20261125) -> Path:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    seen: set[str] = set()
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for _ in range(rows):
            number = identity_number(rng=rng)
            while number in seen:
                number = identity_number(rng=rng)
            seen.add(number)
            writer.writerow(
                [
                    chinese_name(rng),
                    number,
                    rng.choice(OCCUPATIONS),
                    rng.choice(CITY_CODES),
                    rng.choice(GRADES),
                ]
            )
    return path


def split_csv(path: Path, part_rows: int) -> list[Path]:
    """The file cut into files of at most `part_rows` data rows, each with the header, as an
    organiser uploads a register larger than one upload allows (`TABLE_MAX_ROWS`,
    `IMPORT_MAX_BYTES`). A file that fits is returned as it is."""
    parts: list[Path] = []
    with path.open(encoding="utf-8", newline="") as fh:
        header = fh.readline()
        while lines := list(islice(fh, part_rows)):
            if not parts and len(lines) < part_rows:
                return [path]
            part = path.with_name(f"{path.stem}.{len(parts) + 1:02d}{path.suffix}")
            with part.open("w", encoding="utf-8", newline="") as out:
                out.write(header)
                out.writelines(lines)
            parts.append(part)
    return parts
