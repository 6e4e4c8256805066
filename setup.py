"""Build of jqgate's compiled core.

libjq is linked statically into the one Cython extension, `jqgate._core.core`. Its source is not
kept in the git repository; the build goes through three steps, each done once and cached:

1. `jq_release_tarball()`: the jq release tarball is at third_party/jq-<version>.tar.gz. An sdist
   carries it (so building from an sdist needs no network). In a git checkout it is fetched once
   from the package index: the PyPI `jq` sdist (pinned below, checked by sha256) carries it. The
   fetch uses urllib, not pip: pip is not importable inside pip's isolated build environment.
2. `unpack_jq_source()`: unpack it under build/deps, then `apply_jq_patches()` (patches/*.patch,
   in name order, `patch -p1` in the jq source tree). A change to the patches unpacks afresh.
3. `build_libjq()`: configure and compile libjq.a and its bundled oniguruma with -O2.

libnghttp2 (HTTP/2 to clients, server/http2.pyx) is linked statically the same way:
`nghttp2_release_source()` takes the nghttp2 release source that the pinned PyPI `ngh2` sdist
carries (vendor/nghttp2, checked by the sdist's sha256) into third_party/nghttp2-<version>.tar.gz,
which an sdist carries in turn; `build_libnghttp2()` builds libnghttp2.a lib-only, static and PIC
with CMake (the `cmake` build requirement, so no system package is needed).
"""
import configparser
import glob
import hashlib
import html.parser
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request

from Cython.Build import cythonize
from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist
from setuptools.extension import Extension

HERE = os.path.dirname(os.path.abspath(__file__))
JQ_SDIST_VERSION = "1.13.0"   # the PyPI `jq` release whose sdist carries the jq source
JQ_SDIST_SHA256 = "e62bdddeab3b8a0a404581a7bb6f1e8c4cc6082280870031f746074f4cac52c0"
JQ_SOURCE_VERSION = "1.8.2"    # the jq release inside that sdist
JQ_SOURCE_SHA256 = "71b8d6e8f5fe81f6c6d0d110e3892251f6ce76ed095abd315e26e6e1193af3af"
THIRD_PARTY = os.path.join(HERE, "third_party")
JQ_TARBALL = os.path.join(THIRD_PARTY, "jq-%s.tar.gz" % JQ_SOURCE_VERSION)
PATCHES = sorted(glob.glob(os.path.join(HERE, "patches", "*.patch")))
DEPS_DIR = os.path.join(HERE, "build", "deps")
JQ_DIR = os.path.join(DEPS_DIR, "jq-" + JQ_SOURCE_VERSION)
PATCH_STAMP = os.path.join(JQ_DIR, ".jqgate-patches")
LIBJQ = os.path.join(JQ_DIR, ".libs", "libjq.a")
LIBONIG = os.path.join(JQ_DIR, "vendor", "oniguruma", "src", ".libs", "libonig.a")
JQ_CFLAGS = "-O2 -fPIC -pthread"

NGH2_SDIST_VERSION = "0.3.0"   # the PyPI `ngh2` release whose sdist carries the nghttp2 source
NGH2_SDIST_SHA256 = "09b995aa65b8a397de652fd7a9b3877d6d1e24c10d2effc36204a3f37aa73440"
NGHTTP2_VERSION = "1.70.0"     # the nghttp2 release in that sdist (vendor/nghttp2)
NGHTTP2_TARBALL = os.path.join(THIRD_PARTY, "nghttp2-%s.tar.gz" % NGHTTP2_VERSION)
NGHTTP2_DIR = os.path.join(DEPS_DIR, "nghttp2-" + NGHTTP2_VERSION)
NGHTTP2_BUILD = os.path.join(NGHTTP2_DIR, "_build")
LIBNGHTTP2 = os.path.join(NGHTTP2_BUILD, "lib", "libnghttp2.a")


def _say(message):
    # pip hides a build's output unless it fails or -v is given; `make` shows these lines.
    print("jqgate build: " + message, flush=True)


def _run(args, cwd):
    _say(" ".join(args))
    subprocess.check_call(args, cwd=cwd)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- 1. the jq release tarball -------------------------------------------------------------------

def package_index_url():
    """The index pip is configured with: PIP_INDEX_URL, else index-url from pip's configuration
    files (PIP_CONFIG_FILE, then the user's, then the site's), else PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    files = [os.environ.get("PIP_CONFIG_FILE"),
             os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")),
                          "pip", "pip.conf"),
             os.path.expanduser("~/.pip/pip.conf"),
             os.path.join(sys.prefix, "pip.conf"), "/etc/pip.conf"]
    files += [os.path.join(d, "pip", "pip.conf")
              for d in os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")]
    for path in files:
        if not path or not os.path.isfile(path):
            continue
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except configparser.Error:
            continue
        for section in ("install", "download", "global"):
            if parser.has_option(section, "index-url"):
                return parser.get(section, "index-url")
    return "https://pypi.org/simple"


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.extend(value for name, value in attrs if name == "href" and value)


def _fetch_sdist(project, version, sha256, dest):
    """Download the pinned sdist of `project` from the package index's simple page into
    `dest`."""
    index = package_index_url().rstrip("/") + "/"
    page_url = urllib.parse.urljoin(index, project + "/")
    wanted = "%s-%s.tar.gz" % (project, version)
    _say("fetching %s from %s (once; an sdist of jqgate carries the source)" % (wanted, index))
    listing = page_url
    if page_url.startswith("file:"):            # a local index: the page is a directory's file
        listing = urllib.parse.urljoin(page_url, "index.html")
    with urllib.request.urlopen(listing, timeout=120) as page:
        parser = _Links()
        parser.feed(page.read().decode("utf-8", "replace"))
    for href in parser.links:
        if urllib.parse.urlsplit(href).path.rsplit("/", 1)[-1] == wanted:
            url = urllib.parse.urljoin(page_url, href)
            break
    else:
        raise RuntimeError("%s is not listed on %s" % (wanted, page_url))
    with urllib.request.urlopen(url, timeout=300) as response, open(dest + ".part", "wb") as out:
        shutil.copyfileobj(response, out)
    if _sha256(dest + ".part") != sha256:
        os.unlink(dest + ".part")
        raise RuntimeError("%s from %s does not have the expected sha256" % (wanted, url))
    os.replace(dest + ".part", dest)


def jq_release_tarball():
    """third_party/jq-<version>.tar.gz, fetched (through the `jq` sdist) when missing."""
    if os.path.exists(JQ_TARBALL):
        return JQ_TARBALL
    os.makedirs(DEPS_DIR, exist_ok=True)
    jq_sdist = os.path.join(DEPS_DIR, "jq-%s.tar.gz" % JQ_SDIST_VERSION)
    if not os.path.exists(jq_sdist) or _sha256(jq_sdist) != JQ_SDIST_SHA256:
        _fetch_sdist("jq", JQ_SDIST_VERSION, JQ_SDIST_SHA256, jq_sdist)
    inner = "jq-%s/deps/jq-%s.tar.gz" % (JQ_SDIST_VERSION, JQ_SOURCE_VERSION)
    os.makedirs(THIRD_PARTY, exist_ok=True)
    with tarfile.open(jq_sdist, "r:gz") as outer, open(JQ_TARBALL + ".part", "wb") as out:
        shutil.copyfileobj(outer.extractfile(inner), out)
    if _sha256(JQ_TARBALL + ".part") != JQ_SOURCE_SHA256:
        os.unlink(JQ_TARBALL + ".part")
        raise RuntimeError("%s in the jq sdist does not have the expected sha256" % inner)
    os.replace(JQ_TARBALL + ".part", JQ_TARBALL)
    return JQ_TARBALL


# -- 2. unpacked and patched -----------------------------------------------------------------------

def _patches_digest():
    digest = hashlib.sha256()
    for path in PATCHES:
        digest.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest() if PATCHES else ""


def _applied_digest():
    try:
        with open(PATCH_STAMP) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def apply_jq_patches(jq_dir):
    """Apply patches/*.patch (name order) to a freshly unpacked jq source tree."""
    for path in PATCHES:
        _run(["patch", "-p1", "--forward", "--batch", "-i", path], cwd=jq_dir)
    with open(os.path.join(jq_dir, ".jqgate-patches"), "w") as f:
        f.write(_patches_digest())


def unpack_jq_source():
    """build/deps/jq-<version>: the release unpacked and patched (again when patches change)."""
    if os.path.exists(os.path.join(JQ_DIR, "configure")) and _applied_digest() == _patches_digest():
        return
    tarball = jq_release_tarball()
    shutil.rmtree(JQ_DIR, ignore_errors=True)
    os.makedirs(DEPS_DIR, exist_ok=True)
    _say("unpacking %s" % os.path.basename(tarball))
    with tarfile.open(tarball, "r:gz") as jq_tar:
        jq_tar.extractall(DEPS_DIR, filter="data")
    apply_jq_patches(JQ_DIR)


# -- 3. compiled -----------------------------------------------------------------------------------

def build_libjq():
    """Configure and compile libjq.a and libonig.a with optimisation (once)."""
    unpack_jq_source()
    if os.path.exists(LIBJQ) and os.path.exists(LIBONIG):
        return
    _say("compiling libjq %s and oniguruma (once; about a minute)" % JQ_SOURCE_VERSION)
    jobs = "-j%d" % max(1, os.cpu_count() or 1)
    _run(["./configure", "CFLAGS=" + JQ_CFLAGS, "--disable-maintainer-mode", "--disable-docs",
          "--disable-shared", "--enable-static", "--with-oniguruma=builtin"], cwd=JQ_DIR)
    _run(["make", jobs, "-C", "vendor/oniguruma/src", "libonig.la"], cwd=JQ_DIR)
    _run(["make", jobs, "src/builtin.inc"], cwd=JQ_DIR)
    _run(["make", jobs, "libjq.la"], cwd=JQ_DIR)


# -- libnghttp2 -------------------------------------------------------------------------------------

def nghttp2_release_source():
    """third_party/nghttp2-<version>.tar.gz: the nghttp2 source tree (top folder
    nghttp2-<version>), taken once from the pinned `ngh2` sdist when missing."""
    if os.path.exists(NGHTTP2_TARBALL):
        return NGHTTP2_TARBALL
    os.makedirs(DEPS_DIR, exist_ok=True)
    ngh2_sdist = os.path.join(DEPS_DIR, "ngh2-%s.tar.gz" % NGH2_SDIST_VERSION)
    if not os.path.exists(ngh2_sdist) or _sha256(ngh2_sdist) != NGH2_SDIST_SHA256:
        _fetch_sdist("ngh2", NGH2_SDIST_VERSION, NGH2_SDIST_SHA256, ngh2_sdist)
    inner = "ngh2-%s/vendor/nghttp2/" % NGH2_SDIST_VERSION
    top = "nghttp2-%s/" % NGHTTP2_VERSION
    os.makedirs(THIRD_PARTY, exist_ok=True)
    with tarfile.open(ngh2_sdist, "r:gz") as outer, \
            tarfile.open(NGHTTP2_TARBALL + ".part", "w:gz") as out:
        for member in outer.getmembers():
            if not member.name.startswith(inner):
                continue
            rel = member.name[len(inner):]
            data = outer.extractfile(member) if member.isfile() else None
            member.name = top + rel
            out.addfile(member, data)
    os.replace(NGHTTP2_TARBALL + ".part", NGHTTP2_TARBALL)
    return NGHTTP2_TARBALL


def _cmake():
    """The cmake of the build requirement (beside this Python, or on PATH)."""
    here = os.path.dirname(sys.executable)
    found = shutil.which("cmake", path=here + os.pathsep + os.environ.get("PATH", ""))
    if found is None:
        try:
            import cmake
            found = os.path.join(cmake.CMAKE_BIN_DIR, "cmake")
        except ImportError:
            raise RuntimeError("building libnghttp2 needs cmake (pip install cmake)")
    return found


def build_libnghttp2():
    """Unpack and compile libnghttp2.a: lib only, static, position-independent (once)."""
    if os.path.exists(LIBNGHTTP2):
        return
    tarball = nghttp2_release_source()
    shutil.rmtree(NGHTTP2_DIR, ignore_errors=True)
    _say("unpacking %s" % os.path.basename(tarball))
    with tarfile.open(tarball, "r:gz") as tar:
        tar.extractall(DEPS_DIR, filter="data")
    _say("compiling libnghttp2 %s (once; about half a minute)" % NGHTTP2_VERSION)
    cmake = _cmake()
    _run([cmake, "-S", ".", "-B", "_build", "-DENABLE_LIB_ONLY=ON", "-DBUILD_SHARED_LIBS=OFF",
          "-DBUILD_STATIC_LIBS=ON", "-DBUILD_TESTING=OFF", "-DENABLE_DOC=OFF",
          "-DCMAKE_POSITION_INDEPENDENT_CODE=ON", "-DCMAKE_BUILD_TYPE=Release",
          "-DCMAKE_C_FLAGS=-O2"], cwd=NGHTTP2_DIR)
    _run([cmake, "--build", "_build", "--target", "nghttp2_static",
          "-j%d" % max(1, os.cpu_count() or 1)], cwd=NGHTTP2_DIR)


# The C headers the core's .pxd files name (`cdef extern from`): a plan module cimports the core's
# declarations, so its C code includes them too. They go into the package as
# jqgate/_core/include/ (jqgate.plan_module.build passes that directory to the C compiler).
CORE_HEADERS = sorted(glob.glob("csrc/*.h")) + [
    os.path.join(JQ_DIR, "src", name) for name in ("jq.h", "jv.h", "jv_alloc.h")]


class BuildExtWithLibjq(build_ext):
    def run(self):
        build_libjq()
        build_libnghttp2()
        _say("compiling the core extension (one large C file: 2-3 minutes on 2 cores)")
        build_ext.run(self)
        include_dir = os.path.join("src" if self.inplace else self.build_lib,
                                   "jqgate", "_core", "include")
        os.makedirs(include_dir, exist_ok=True)
        for header in CORE_HEADERS:
            shutil.copy(header, include_dir)


class SdistWithJqSource(sdist):
    """The sdist carries third_party/jq-<version>.tar.gz (MANIFEST.in), so fetch it first."""

    def run(self):
        jq_release_tarball()
        nghttp2_release_source()
        sdist.run(self)


TLS_SOURCE = "src/jqgate/_core/tls.pyx"

core = Extension(
    "jqgate._core.core",
    sources=["src/jqgate/_core/core.pyx"] + sorted(glob.glob("csrc/*.c")),
    include_dirs=["csrc", os.path.join(JQ_DIR, "src"),
                  os.path.join(NGHTTP2_DIR, "lib", "includes"),
                  os.path.join(NGHTTP2_BUILD, "lib", "includes"),    # nghttp2ver.h
                  os.path.join(NGHTTP2_DIR, "lib")],    # nghttp2_session.h (includes/nghttp2.pxd)
    extra_objects=[LIBJQ, LIBONIG, LIBNGHTTP2],
    extra_compile_args=["-O2"],
    libraries=["m"],
    # Every .pyx/.pxd/.pxi under _core/ (its folders by concept included), so a change to any
    # of them recompiles the one extension that includes them.
    depends=sorted(glob.glob("src/jqgate/_core/**/*.pxd", recursive=True)
                   + glob.glob("src/jqgate/_core/**/*.pxi", recursive=True)
                   + [p for p in glob.glob("src/jqgate/_core/**/*.pyx", recursive=True)
                      if p != TLS_SOURCE]
                   + glob.glob("csrc/*.h")) + PATCHES,
)

# TLS on the proxy listeners (_core/tls.pyx): a small extension of its own, linked against
# nothing: it finds at import the OpenSSL that Python's `ssl` module uses (so the contexts
# jqgate.tls builds with `ssl` are used as they are), and a change to it does not recompile the
# core.
tls = Extension("jqgate._core.tls", sources=[TLS_SOURCE], extra_compile_args=["-O2"])

setup(
    ext_modules=cythonize(
        [core, tls],
        # cimports name their .pxd by package path (jqgate._core.includes.libjq); files in the
        # core's folders are not packages themselves, so Cython looks the path up from src/.
        include_path=["src"],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "embedsignature": True},
    ),
    cmdclass={"build_ext": BuildExtWithLibjq, "sdist": SdistWithJqSource},
)
