"""Build script: metadata lives in pyproject.toml; this only declares the native kernels.

The kernels are plain C + OpenMP loaded through ctypes (no NumPy C API, so no build-time
NumPy). OpenMP is used when the compiler supports it; otherwise the loops run serially.
"""

import os
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class BuildExt(build_ext):
    def build_extensions(self) -> None:
        openmp = self._has_openmp()
        for ext in self.extensions:
            ext.extra_compile_args = ["-O3", "-std=c11", *(["-fopenmp"] if openmp else [])]
            ext.extra_link_args = ["-fopenmp"] if openmp else []
        if not openmp:
            print("warning: no OpenMP; mining kernels will run on one thread", file=sys.stderr)
        super().build_extensions()

    def _has_openmp(self) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "omp.c")
            with open(src, "w") as fh:
                fh.write("#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n")
            try:
                objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
                self.compiler.link_executable(objs, os.path.join(tmp, "omp"), extra_postargs=["-fopenmp"])
            except Exception:
                return False
        return True


setup(
    ext_modules=[Extension("bundlewise.mining._kernels", ["src/bundlewise/mining/_kernels.c"])],
    cmdclass={"build_ext": BuildExt},
)
