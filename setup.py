"""Build the compiled kernels of fastreg.

Every ``src_cython/fastreg/<name>.pyx`` becomes the extension ``fastreg.<name>``.
One directives dict applies to all of them; ``FASTREG_DEBUG_CYTHON=1`` turns
bounds, wrap-around and initialization checks on (for test builds). Modules whose
source uses ``prange`` get OpenMP flags when a compile probe shows the compiler
supports OpenMP, and build serially otherwise.
"""
import os
import sys
import tempfile
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent
CYTHON_ROOT = "src_cython"
DEBUG = os.environ.get("FASTREG_DEBUG_CYTHON", "0") not in ("", "0")

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "nonecheck": DEBUG,
    "embedsignature": True,
    "cpow": True,
}


def _compile_args():
    if sys.platform == "win32":
        return ["/O2"]
    # -fno-math-errno: without it gcc guards every sqrt() with a branch that sets
    # errno for negative arguments, which stops loops (Adam) from vectorizing.
    # No fastreg kernel reads errno.
    return ["-O3", "-fno-math-errno"] + (["-g0"] if not DEBUG else ["-O1", "-g"])


def _openmp_flags():
    """Return (compile, link) flags if the C compiler builds an OpenMP program."""
    if os.environ.get("FASTREG_NO_OPENMP"):
        return None
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    flag = "/openmp" if sys.platform == "win32" else "-fopenmp"
    code = "#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel reduction(+:n)\nn+=1;\nreturn n>0?0:1;}\n"
    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(code)
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=[flag])
            compiler.link_executable(objs, "probe", output_dir=tmp,
                                     extra_postargs=[] if sys.platform == "win32" else [flag])
        except Exception:
            print("fastreg: OpenMP not available, building serial kernels")
            return None
    return [flag], ([] if sys.platform == "win32" else [flag])


def _extensions():
    from Cython.Build import cythonize

    sources = sorted((HERE / CYTHON_ROOT / "fastreg").glob("*.pyx"))
    only = os.environ.get("FASTREG_BUILD_ONLY")  # e.g. "_prox,_cd": faster dev rebuilds
    if only:
        sources = [s for s in sources if s.stem in only.split(",")]
    omp = None
    needs_probe = any("prange" in s.read_text() for s in sources)
    if needs_probe:
        omp = _openmp_flags()
    exts = []
    for src in sources:
        compile_args, link_args = _compile_args(), []
        macros = [("CYTHON_OPENMP", "0")]
        if omp is not None and "prange" in src.read_text():
            compile_args += omp[0]
            link_args += omp[1]
            macros = [("CYTHON_OPENMP", "1")]
        exts.append(Extension(
            f"fastreg.{src.stem}",
            [str(src.relative_to(HERE))],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            define_macros=macros,
        ))
    return cythonize(exts, compiler_directives=DIRECTIVES, include_path=[CYTHON_ROOT],
                     language_level=3, nthreads=_jobs())


def _jobs():
    """Parallel jobs for cythonize and the C compiler (FASTREG_BUILD_JOBS, default: CPUs)."""
    return int(os.environ.get("FASTREG_BUILD_JOBS", os.cpu_count() or 1))


setup(ext_modules=_extensions(), options={"build_ext": {"parallel": _jobs()}})
