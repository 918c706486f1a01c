"""The webhook fan-out benchmark on its own (it is part of `make bench`; see bench/webhooks.py).

python scripts/bench_webhooks.py [--events 10000] [--subscribers 3] [--dispatchers 1]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhooks import main

if __name__ == "__main__":
    raise SystemExit(main(["run", *sys.argv[1:]]))
