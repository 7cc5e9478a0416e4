"""Write bot/reading/data/prefilters.json again: the requirements of every pattern the
classifier asks a prefilter for, derived afresh (bot.reading.prefilter explains the file).
Run after changing a pattern or the derivation; tests/test_prefilter.py fails until then.

    .venv/bin/python bench/write_prefilters.py
"""

from __future__ import annotations

import bot.reading.classifier  # noqa: F401  (its patterns ask for their prefilters at import)
from bot.reading import prefilter


def main() -> None:
    prefilter.DERIVED_FILE.write_text(
        prefilter.derived_file_text(prefilter._ASKED), encoding="utf-8"
    )
    print(f"{prefilter.DERIVED_FILE}: {len(set(prefilter._ASKED))} patterns")


if __name__ == "__main__":
    main()
