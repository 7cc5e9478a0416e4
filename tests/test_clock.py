"""One clock: the workflow reads the time only from the clock it is given (`Services.clock`)
or from a `now` passed in, so nothing it decides depends on the day the code happens to run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Ways to read the machine's clock. The one module allowed to is bot/clock.py.
WALL_CLOCK = re.compile(r"\butcnow\b|datetime\.now\(|date\.today\(|\btime\.time\(|\btime\(\)")
REASON = "# wall clock:"


def test_only_the_clock_module_reads_the_wall_clock_and_every_other_use_says_why():
    unexplained = []
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")]):
        if path.name == "clock.py" and path.parent.name == "bot":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if line.lstrip().startswith(("from ", "import ")):
                continue
            if WALL_CLOCK.search(code) and REASON not in line:
                unexplained.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert unexplained == [], "read the time from services.clock or a `now` passed in"
