"""How each Debian source package is configured and built, and which split it is in.

A recipe uses the package's own build system wherever it works here without tools this
machine lacks (autoconf/automake/libtool, bison, flex are not installed; release
tarballs ship their generated ``configure`` and parsers):

- ``autotools``: ``./configure CC=<wrapper> ...`` then ``make -k``;
- ``cmake``: ``cmake -DCMAKE_C_COMPILER=<wrapper> ...`` (Unix Makefiles) then ``make -k``;
- ``make``: the package's Makefile with ``CC=<wrapper>`` (after ``pre`` commands);
- ``files``: a generated Makefile compiling the listed sources with the listed flags
  (the package's own flags, copied from its Makefile), where the build system needs a
  tool missing here (lua5.4's Debian Makefile needs libtool).

Optional features that would pull in libraries are switched off where the package
allows, so the corpus depends little on which ``-dev`` packages a machine has.

Split (by package; a package's modules are all in one split). Packages that share
vendored code form a ``group`` that stays in one split (gnulib in the GNU packages;
xxhash and the LZ77 code lz4 and zstd share, by one author); ``Corpus.split`` also drops
from train/val any module structurally equal to a test module. The held-out packages
are chosen for variety and to hold about 15% of the modules: a shell (bash), a regex
engine (pcre2), a compressor (xz-utils), a data-format library (libxml2) and a network
client (curl). Validation (~10%): dash, less, libevent, lmdb, libyaml, jansson, libuv1,
tiff, libpng1.6, lua5.4. The rest (busybox, git and coreutils are the largest) trains.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

# Bump when the build procedure changes in a way no recipe field shows.
RECIPE_FORMAT = 1


@dataclass(frozen=True)
class Recipe:
    """One package's build.

    Attributes:
        package: Debian source package name (``apt-get source`` argument).
        kind: ``autotools``, ``cmake``, ``make`` or ``files`` (see the module doc).
        split: ``train``, ``val`` or ``test``.
        subdir: folder of the tree where the build runs ('' = the top).
        configure: extra arguments of ``./configure`` or ``cmake``.
        make: extra ``make`` arguments (variables, targets).
        pre: commands run in ``subdir`` before configuring (each a tuple of argv).
        files: glob patterns (relative to ``subdir``) of the sources, kind ``files``.
        cflags: compile flags of kind ``files`` (the package's own).
        group: name shared by packages with common vendored code (None = alone).
        note: why the recipe is as it is, where not obvious.
    """

    package: str
    kind: str
    split: str
    subdir: str = ""
    configure: tuple[str, ...] = ()
    make: tuple[str, ...] = ()
    pre: tuple[tuple[str, ...], ...] = ()
    files: tuple[str, ...] = ()
    cflags: tuple[str, ...] = ()
    group: str | None = None
    note: str = field(default="", compare=False)

    def key(self) -> str:
        """Hash (hex, 16) of everything that defines the build except ``note``/``split``."""
        d = asdict(self)
        d.pop("note")
        d.pop("split")
        d["format"] = RECIPE_FORMAT
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


RECIPES: dict[str, Recipe] = {}


def _add(recipe: Recipe) -> None:
    RECIPES[recipe.package] = recipe


_add(
    Recipe(
        "lua5.4",
        "files",
        "val",
        subdir="src",
        files=("*.c",),
        cflags=("-std=gnu99", "-O2", "-DLUA_COMPAT_5_3", "-DLUA_USE_LINUX"),
        pre=(
            (
                "sh",
                "-c",
                "printf '#define DEB_HOST_MULTIARCH \"x86_64-linux-gnu\"\\n'"
                " > lua5.4-deb-multiarch.h",
            ),
        ),
        note="Debian's Makefile needs libtool; flags are its 'make linux' ones (no readline);"
        " pre writes the header debian/rules generates",
    )
)

# Autotools packages: shared libraries only where libtool builds both (one object per
# TU instead of a PIC and a non-PIC copy), no NLS, optional libraries off.
_add(Recipe("zlib", "autotools", "train", note="zlib's own configure (not autoconf)"))
_add(Recipe("bzip2", "make", "train", make=("libbz2.a", "bzip2", "bzip2recover")))
_add(
    Recipe(
        "xz-utils",
        "autotools",
        "test",
        configure=("--disable-static", "--disable-nls", "--disable-doc"),
    )
)
_add(Recipe("gzip", "autotools", "train", group="gnulib"))
_add(
    Recipe(
        "coreutils",
        "autotools",
        "train",
        configure=(
            "--disable-nls",
            "--without-selinux",
            "--without-openssl",
            "--disable-libcap",
            "--without-libgmp",
            "--disable-acl",
            "--disable-xattr",
        ),
        group="gnulib",
    )
)
_add(
    Recipe(
        "gawk",
        "autotools",
        "train",
        configure=("--disable-nls", "--without-readline", "--without-mpfr"),
        group="gnulib",
        note="support/ holds gnulib's regex and dfa",
    )
)
_add(Recipe("pcre2", "autotools", "test", configure=("--disable-static", "--enable-jit")))
_add(Recipe("libpng1.6", "autotools", "val", configure=("--disable-static",)))
_add(
    Recipe(
        "curl",
        "autotools",
        "test",
        configure=(
            "--disable-static",
            "--without-ssl",
            "--without-libpsl",
            "--without-zlib",
            "--without-brotli",
            "--without-zstd",
            "--without-libidn2",
            "--without-nghttp2",
            "--without-librtmp",
            "--without-libssh2",
            "--disable-ldap",
            "--disable-manual",
        ),
    )
)
_add(
    Recipe(
        "libarchive",
        "autotools",
        "train",
        configure=(
            "--disable-static",
            "--without-xml2",
            "--without-expat",
            "--without-openssl",
            "--without-nettle",
            "--without-lzma",
            "--without-zstd",
            "--without-lz4",
            "--without-bz2lib",
            "--without-zlib",
            "--without-iconv",
            "--disable-acl",
            "--disable-xattr",
        ),
    )
)
_add(
    Recipe(
        "bash",
        "autotools",
        "test",
        configure=("--without-bash-malloc", "--disable-nls"),
    )
)
_add(
    Recipe(
        "libxml2",
        "autotools",
        "test",
        configure=(
            "--disable-static",
            "--without-python",
            "--without-lzma",
            "--without-zlib",
            "--without-icu",
            "--without-http",
            "--without-ftp",
        ),
    )
)
_add(Recipe("dash", "autotools", "val"))
_add(Recipe("less", "autotools", "val", note="needs ncurses headers (libncurses-dev)"))
_add(
    Recipe(
        "sqlite3",
        "autotools",
        "train",
        configure=("--disable-tcl", "--disable-readline", "--disable-static"),
        note="make builds the amalgamation (sqlite3.c) with tclsh, then compiles it",
    )
)
_add(
    Recipe(
        "libevent",
        "autotools",
        "val",
        configure=(
            "--disable-static",
            "--disable-openssl",
            "--disable-mbedtls",
            "--disable-samples",
            "--disable-libevent-regress",
        ),
    )
)
_add(
    Recipe(
        "nginx",
        "autotools",
        "train",
        configure=(
            "--without-http_rewrite_module",
            "--without-http_gzip_module",
            "--without-pcre",
        ),
        note="nginx's own configure (not autoconf); CC comes from the environment",
    )
)

# Makefile packages: the package's own Makefile with CC overridden.
_add(Recipe("lz4", "make", "train", make=("lib-release", "lz4-release"), group="lz4-zstd"))
_add(
    Recipe(
        "libzstd",
        "make",
        "train",
        make=("lib-release", "zstd-release"),
        group="lz4-zstd",
        note="lib/common/xxhash and the programs' helpers overlap with lz4 (same author)",
    )
)
_add(
    Recipe(
        "busybox",
        "make",
        "train",
        pre=(("make", "defconfig"),),
        make=("busybox",),
        note="defconfig; HOSTCC (gcc) builds kconfig and is not logged",
    )
)
_add(
    Recipe(
        "git",
        "make",
        "train",
        make=(
            "NO_GETTEXT=1",
            "NO_TCLTK=1",
            "NO_CURL=1",
            "NO_EXPAT=1",
            "NO_OPENSSL=1",
            "NO_PERL=1",
            "NO_PYTHON=1",
            "all",
        ),
    )
)
_add(Recipe("mbedtls", "make", "train", make=("lib", "programs")))
_add(Recipe("lmdb", "make", "val", subdir="libraries/liblmdb"))

# CMake packages (no generated configure in the tarball, or CMake is their main build).
_add(Recipe("libyaml", "cmake", "val", configure=("-DBUILD_TESTING=OFF",)))
_add(Recipe("libonig", "cmake", "train", configure=("-DBUILD_TESTING=OFF",)))
_add(
    Recipe(
        "cjson",
        "cmake",
        "train",
        configure=("-DENABLE_CJSON_TEST=OFF", "-DENABLE_CJSON_UTILS=ON"),
    )
)
_add(Recipe("brotli", "cmake", "train", configure=("-DBROTLI_DISABLE_TESTS=ON",)))
_add(
    Recipe(
        "jansson",
        "cmake",
        "val",
        configure=("-DJANSSON_BUILD_DOCS=OFF", "-DJANSSON_WITHOUT_TESTS=ON"),
    )
)
_add(Recipe("libuv1", "cmake", "val", configure=("-DLIBUV_BUILD_TESTS=OFF",)))
_add(
    Recipe(
        "expat",
        "cmake",
        "train",
        subdir="expat",
        configure=(
            "-DEXPAT_BUILD_TESTS=OFF",
            "-DEXPAT_BUILD_EXAMPLES=OFF",
            "-DEXPAT_BUILD_DOCS=OFF",
        ),
    )
)
_add(
    Recipe(
        "tiff",
        "cmake",
        "val",
        configure=(
            "-Dtiff-tests=OFF",
            "-Dtiff-docs=OFF",
            "-Djpeg=OFF",
            "-Dzlib=OFF",
            "-Dlzma=OFF",
            "-Dzstd=OFF",
            "-Dwebp=OFF",
            "-Djbig=OFF",
            "-Dlerc=OFF",
            "-Dpixarlog=OFF",
            "-Dlibdeflate=OFF",
        ),
    )
)

# Tried and left out: why (shown by `tunebench corpus list`).
NOT_USED: dict[str, str] = {
    "jq": "no generated configure in the Debian source; autoreconf is not installed",
    "libsodium": "no generated configure in the Debian source; autoreconf is not installed",
    "make-dfsg": "no generated configure in the Debian source; autoreconf is not installed",
}
