"""Independent random streams derived from one experiment seed."""

from __future__ import annotations

import numpy as np
import torch

# One stream per consumer, so that adding randomness in one place (a second network, mixup's
# draws) never shifts the numbers another consumer draws.
STREAMS = {
    "noise": 0,
    "shuffle": 1,
    "method": 2,
    "global": 3,
    "network": 10,  # network k uses 10 + k
}


def derive_seed(seed: int, stream: str, offset: int = 0) -> int:
    """Derive a 63-bit seed for ``stream`` from ``seed`` with NumPy's SeedSequence."""
    if stream not in STREAMS:
        raise ValueError(f"unknown random stream {stream!r}; expected one of {sorted(STREAMS)}")
    sequence = np.random.SeedSequence([int(seed), STREAMS[stream] + int(offset)])
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def torch_generator(seed: int, stream: str, offset: int = 0) -> torch.Generator:
    """Return a CPU ``torch.Generator`` seeded for ``stream``."""
    generator = torch.Generator()
    generator.manual_seed(derive_seed(seed, stream, offset))
    return generator
