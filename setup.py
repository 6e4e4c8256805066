"""Build of jqgate's compiled core.

libjq is linked statically into the one Cython extension, `jqgate._core.core`. Its source is not
kept in this repository: at build time the `jq` sdist is fetched from the package index with pip
(pinned below), the jq release tarball inside it is unpacked under build/, and libjq plus its
bundled oniguruma are compiled with -O2. The result is cached in build/ so rebuilds only
recompile our own code.
"""
import glob
import os
import subprocess
import sys
import tarfile

from Cython.Build import cythonize
from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.extension import Extension

HERE = os.path.dirname(os.path.abspath(__file__))
JQ_SDIST_VERSION = "1.13.0"   # the PyPI `jq` release whose sdist carries the jq source
JQ_SOURCE_VERSION = "1.8.2"    # the jq release inside that sdist
DEPS_DIR = os.path.join(HERE, "build", "deps")
JQ_DIR = os.path.join(DEPS_DIR, "jq-" + JQ_SOURCE_VERSION)
LIBJQ = os.path.join(JQ_DIR, ".libs", "libjq.a")
LIBONIG = os.path.join(JQ_DIR, "vendor", "oniguruma", "src", ".libs", "libonig.a")
JQ_CFLAGS = "-O2 -fPIC -pthread"


def _run(args, cwd):
    print("libjq build:", " ".join(args), flush=True)
    subprocess.check_call(args, cwd=cwd)


def fetch_jq_source():
    """Unpack the jq release tarball from the `jq` sdist into build/deps (once)."""
    if os.path.exists(os.path.join(JQ_DIR, "configure")):
        return
    os.makedirs(DEPS_DIR, exist_ok=True)
    sdist = os.path.join(DEPS_DIR, "jq-%s.tar.gz" % JQ_SDIST_VERSION)
    if not os.path.exists(sdist):
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
              "--dest", DEPS_DIR, "jq==" + JQ_SDIST_VERSION], cwd=HERE)
    inner = "jq-%s/deps/jq-%s.tar.gz" % (JQ_SDIST_VERSION, JQ_SOURCE_VERSION)
    with tarfile.open(sdist, "r:gz") as outer:
        member = outer.extractfile(inner)
        with tarfile.open(fileobj=member, mode="r:gz") as jq_tar:
            jq_tar.extractall(DEPS_DIR, filter="data")


def build_libjq():
    """Configure and compile libjq.a and libonig.a with optimisation (once)."""
    if os.path.exists(LIBJQ) and os.path.exists(LIBONIG):
        return
    fetch_jq_source()
    jobs = "-j%d" % max(1, os.cpu_count() or 1)
    _run(["./configure", "CFLAGS=" + JQ_CFLAGS, "--disable-maintainer-mode", "--disable-docs",
          "--disable-shared", "--enable-static", "--with-oniguruma=builtin"], cwd=JQ_DIR)
    _run(["make", jobs, "-C", "vendor/oniguruma/src", "libonig.la"], cwd=JQ_DIR)
    _run(["make", jobs, "src/builtin.inc"], cwd=JQ_DIR)
    _run(["make", jobs, "libjq.la"], cwd=JQ_DIR)


class BuildExtWithLibjq(build_ext):
    def run(self):
        build_libjq()
        build_ext.run(self)


core = Extension(
    "jqgate._core.core",
    sources=["src/jqgate/_core/core.pyx"] + sorted(glob.glob("csrc/*.c")),
    include_dirs=["csrc", os.path.join(JQ_DIR, "src")],
    extra_objects=[LIBJQ, LIBONIG],
    extra_compile_args=["-O2"],
    libraries=["m"],
    depends=sorted(glob.glob("src/jqgate/_core/*.pxd") + glob.glob("src/jqgate/_core/*.pxi")
                   + glob.glob("src/jqgate/_core/*.pyx") + glob.glob("csrc/*.h")),
)

setup(
    ext_modules=cythonize(
        [core],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "embedsignature": True},
    ),
    cmdclass={"build_ext": BuildExtWithLibjq},
)
