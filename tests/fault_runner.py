"""``python tests/fault_runner.py ARGS...``: the splicescore CLI (``splicescore.cli.main``) with a fast,
deterministic stand-in for the SpliceAI network, slowed by ``FAULT_SLEEP`` seconds per forward pass, so
that tests/test_faults.py can kill real runs (subprocesses) at chosen moments."""

import os
import sys
import time

import torch

from splicescore import weights


class SlowFakeSpliceAI(torch.nn.Module):
    """SpliceAI's interface, ``(B, 4, L) -> (B, 3, L - 10000)``; the outputs depend on the sequence."""

    context = 10_000

    def forward(self, x):
        time.sleep(float(os.environ.get("FAULT_SLEEP", "0")))
        core = x[..., 5000 : x.shape[-1] - 5000]
        logits = torch.stack([core[:, 0] + core[:, 3], 2 * core[:, 1], 2 * core[:, 2]], 1)
        return torch.softmax(logits, 1)


if __name__ == "__main__":
    net = SlowFakeSpliceAI()
    weights.load_network = lambda name, root=None: net
    weights.is_installed = lambda name, root=None: True
    weights.is_verified = lambda name, root=None: True
    import splicescore.cache

    splicescore.cache.read_manifest = lambda name, root=None: {"tensors_sha256": "slow-fake-spliceai", "verified": True}
    from splicescore.cli import main

    main(sys.argv[1:])
