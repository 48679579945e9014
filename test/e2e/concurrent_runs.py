"""Two Python threads run two compiled models 200 times each at once, through the C API
(test_python_api.py runs this in a child process, where a crash is a failed exit code
rather than the end of the test session). Prints "ok" when every result equals the
one-thread result bit for bit. Before HostTarget::run paused libomp only softly and only
when no other run was in flight, such runs crashed or asserted inside libomp in 3 of 6
tries (the timing decides; the test is a guard, not a sure reproduction)."""
import sys
import threading
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
import models  # noqa: E402
import sparsec  # noqa: E402

work_dir = Path(sys.argv[1])
paths = [work_dir / "a.onnx", work_dir / "b.onnx"]
onnx.save(models.mlp_gemm(dims=(64, 128, 64, 10)), str(paths[0]))
onnx.save(models.bert_encoder(seq=8, d=64, heads=2, ffn=128), str(paths[1]))
exes = [sparsec.load(p).compile(target="host") for p in paths]


def inputs(path, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim])
            .astype(np.float32) for i in onnx.load(str(path)).graph.input]


xs = [inputs(p, i) for i, p in enumerate(paths)]
results = [[], []]


def work(i):
    for _ in range(200):
        results[i].append(exes[i].run(xs[i])[0])


threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for i in range(2):
    expected = exes[i].run(xs[i])[0]
    assert all(np.array_equal(y, expected) for y in results[i]), paths[i].name
print("ok")
