#!/usr/bin/env python3
"""Write examples/tiny_resnet.onnx (the ResNet-shaped CNN from test/e2e/models.py) and
examples/tiny_resnet_input.npy (deterministic input, seed 0)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "test" / "e2e"))
import models  # noqa: E402

EXAMPLES = REPO_ROOT / "examples"


def main() -> int:
    m = models.resnet_cnn(opset=17)
    model_path = EXAMPLES / "tiny_resnet.onnx"
    input_path = EXAMPLES / "tiny_resnet_input.npy"
    onnx.save_model(m, str(model_path))
    (x,) = models.make_inputs(m, seed=0)
    np.save(input_path, x)
    size = model_path.stat().st_size
    assert size < 1 << 20, f"{model_path} is {size} bytes (limit 1 MiB)"
    print(f"wrote {model_path.relative_to(REPO_ROOT)} ({size} bytes, "
          f"{len(m.graph.node)} nodes) and {input_path.relative_to(REPO_ROOT)} {x.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
