"""Build of jqgate's compiled core.

libjq is linked statically into the one Cython extension, `jqgate._core.core`. Its source is not
kept in this repository: at build time the `jq` sdist is fetched from the package index with pip
(pinned below), the jq release tarball inside it is unpacked under build/, and libjq plus its
bundled oniguruma are compiled with -O2. The result is cached in build/ so rebuilds only
recompile our own code. Between unpacking and configuring, the patches in patches/ are applied
(apply_jq_patches): they add the step and memory budgets jqgate runs every program under.
"""
import glob
import hashlib
import os
import shutil
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
JQ_PATCHES = sorted(glob.glob(os.path.join(HERE, "patches", "jq-%s-*.patch" % JQ_SOURCE_VERSION)))
# Records which patches the unpacked source carries; another set means a fresh unpack.
JQ_PATCH_STAMP = os.path.join(JQ_DIR, ".jqgate-patches")


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


def jq_patches_digest():
    """sha256 over the names and contents of the patches, in the order they are applied."""
    digest = hashlib.sha256()
    for path in JQ_PATCHES:
        digest.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def jq_source_patched_with(digest):
    try:
        with open(JQ_PATCH_STAMP) as f:
            return f.read().strip() == digest
    except OSError:
        return False


def apply_jq_patches():
    """Apply patches/ to the unpacked jq source, once: a source stamped with the current patch
    digest is left alone; a source stamped otherwise (or built before patches existed) is
    unpacked afresh, so a changed patch never lands on top of an old one and everything it
    touches is recompiled."""
    digest = jq_patches_digest()
    if jq_source_patched_with(digest):
        return
    if os.path.exists(JQ_DIR):
        shutil.rmtree(JQ_DIR)
    fetch_jq_source()
    for path in JQ_PATCHES:
        _run(["patch", "-p1", "--forward", "--batch", "-i", path], cwd=JQ_DIR)
    with open(JQ_PATCH_STAMP, "w") as f:
        f.write(digest + "\n")


def build_libjq():
    """Configure and compile libjq.a and libonig.a with optimisation (once per patch set)."""
    if (os.path.exists(LIBJQ) and os.path.exists(LIBONIG)
            and jq_source_patched_with(jq_patches_digest())):
        return
    apply_jq_patches()
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
    # Every .pyx/.pxd/.pxi under _core/ (its folders by concept included), so a change to any
    # of them recompiles the one extension that includes them.
    depends=sorted(glob.glob("src/jqgate/_core/**/*.pxd", recursive=True)
                   + glob.glob("src/jqgate/_core/**/*.pxi", recursive=True)
                   + glob.glob("src/jqgate/_core/**/*.pyx", recursive=True)
                   + glob.glob("csrc/*.h")) + JQ_PATCHES,
)

setup(
    ext_modules=cythonize(
        [core],
        # cimports name their .pxd by package path (jqgate._core.includes.libjq); files in the
        # core's folders are not packages themselves, so Cython looks the path up from src/.
        include_path=["src"],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "embedsignature": True},
    ),
    cmdclass={"build_ext": BuildExtWithLibjq},
)
