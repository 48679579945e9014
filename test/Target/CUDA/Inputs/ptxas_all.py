"""Assembles every <stem>.<arch>.ptx in a directory with ptxas for its arch."""
import pathlib
import subprocess
import sys

ptxas, directory = sys.argv[1], pathlib.Path(sys.argv[2])
files = sorted(directory.glob("*.ptx"))
if not files:
    sys.exit(f"no .ptx files in {directory}")
for ptx in files:
    arch = ptx.suffixes[-2].lstrip(".")
    result = subprocess.run([ptxas, f"-arch={arch}", str(ptx), "-o", "/dev/null"],
                            capture_output=True, text=True)
    if result.returncode != 0 or result.stderr.strip():
        sys.exit(f"{ptx.name}: ptxas -arch={arch} failed:\n{result.stderr}")
    print(f"{ptx.name}: ok ({arch})")
