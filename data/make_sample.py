#!/usr/bin/env python3
"""Generate the embedded sample (data/sample.jsonl, data/sample_truth.json); the generator is data/samplegen/.

    python data/make_sample.py            # (re)write both files, after the self-checks
    python data/make_sample.py --check    # regenerate in memory; exit 1 if the committed files differ
    python data/make_sample.py --help     # every option
"""

import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent
for path in (str(DATA.parent), str(DATA)):  # the repo (curation.config's defaults) and the generator package
    if path not in sys.path:
        sys.path.insert(0, path)

from samplegen.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
