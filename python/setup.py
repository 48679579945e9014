"""Bundles the built C API library into the `sparsec` package.

`pip install ./python` after building sparsec (scripts/setup.sh): the
libraries come from $SPARSEC_BUILD_DIR, else ../build next to this file.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARIES = ["libsparsec_capi.so"]


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        build = os.environ.get("SPARSEC_BUILD_DIR",
                               os.path.join(HERE, os.pardir, "build"))
        for name in LIBRARIES:
            source = os.path.join(build, "lib", name)
            if not os.path.isfile(source):
                raise SystemExit(
                    f"sparsec: {source} not found: build sparsec first "
                    "(scripts/setup.sh) or set SPARSEC_BUILD_DIR")
            target = os.path.join(self.build_lib, "sparsec", name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(source, target)


setup(cmdclass={"build_py": BuildWithLibrary})
