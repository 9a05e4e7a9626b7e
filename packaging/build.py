"""Build LossViewer's Linux artefacts and smoke-test them.

    python packaging/build.py [--no-smoke] [--skip-pyinstaller]

Run it with the Python that has LossViewer installed (``.venv/bin/python``; `bash
scripts/setup.sh` makes one). It installs PyInstaller into that environment when it is
missing, then writes into ``dist/``:

- ``lossviewer/``                                the one-folder bundle (PyInstaller)
- ``lossviewer-<version>-linux-x86_64.tar.gz``  the bundle, packed
- ``lossviewer_<version>_amd64.deb``             installs under /opt/lossviewer with a
                                                 ``lossviewer`` launcher on the PATH, a
                                                 menu entry and icons (dpkg-deb)

and smoke-tests them under Xvfb (when there is no display): the bundle's
``--smoke-test``, the same with ``XDG_SESSION_TYPE=wayland`` (the PyOpenGL EGL
pitfall), and the .deb unpacked with ``dpkg -x`` and started through its launcher.
Last it reports the budgets: bundle size (≤ 250 MB), .tar.gz (≤ 120 MB) and the
frozen cold start to the first 3D frame (≤ 2 s). Exit status 0 only when everything
was built and every smoke test passed (budgets are reported, not enforced).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
BUILD = ROOT / "build"
SPEC = ROOT / "packaging" / "lossviewer.spec"
BUNDLE_BUDGET_MB = 250
TARBALL_BUDGET_MB = 120
START_BUDGET_S = 2.0
#: Debian packages the bundle needs from the system (Qt's xcb plugin, GL, fonts)
DEB_DEPENDS = ("libgl1, libegl1, libopengl0, libxkbcommon-x11-0, libxcb-cursor0, "
               "libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, "
               "libxcb-render-util0, libxcb-shape0, libxcb-xinerama0, libxcb-xkb1, "
               "libfontconfig1, libdbus-1-3")
DEB_RECOMMENDS = "libgl1-mesa-dri, fonts-dejavu-core"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def log(msg: str) -> None:
    print(f"build: {msg}", flush=True)


def version() -> str:
    from lossviewer import __version__

    return __version__


def ensure_pyinstaller() -> None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        log("pip install pyinstaller")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pyinstaller>=6.10"],
                       check=True)


def run_pyinstaller() -> Path:
    ensure_pyinstaller()
    log(f"PyInstaller {SPEC.relative_to(ROOT)}")
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
                    "--log-level", "WARN", "--distpath", str(DIST),
                    "--workpath", str(BUILD / "pyinstaller"), str(SPEC)], check=True, cwd=ROOT)
    bundle = DIST / "lossviewer"
    if not (bundle / "lossviewer").is_file():
        raise SystemExit("build: PyInstaller did not produce dist/lossviewer/lossviewer")
    return bundle


def make_tarball(bundle: Path, ver: str) -> Path:
    out = DIST / f"lossviewer-{ver}-linux-x86_64.tar.gz"
    log(f"pack {out.name}")
    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=f"lossviewer-{ver}")
    return out


LAUNCHER = """#!/bin/sh
# LossViewer launcher (installed by the lossviewer package)
here=$(dirname "$(readlink -f "$0")")
exec "$here/../../opt/lossviewer/lossviewer" "$@"
"""


def make_deb(bundle: Path, ver: str) -> Path:
    if shutil.which("dpkg-deb") is None:
        raise SystemExit("build: dpkg-deb not found (Debian/Ubuntu: apt-get install dpkg)")
    stage = BUILD / "deb" / "root"
    if stage.exists():
        shutil.rmtree(stage)
    opt = stage / "opt" / "lossviewer"
    shutil.copytree(bundle, opt, symlinks=True)
    bin_dir = stage / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    launcher = bin_dir / "lossviewer"
    launcher.write_text(LAUNCHER)
    launcher.chmod(0o755)
    apps = stage / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy(ROOT / "resources" / "lossviewer.desktop", apps / "lossviewer.desktop")
    icons = stage / "usr" / "share" / "icons" / "hicolor"
    for n in ICON_SIZES:
        d = icons / f"{n}x{n}" / "apps"
        d.mkdir(parents=True)
        shutil.copy(ROOT / "resources" / "icons" / f"lossviewer-{n}.png", d / "lossviewer.png")
    scalable = icons / "scalable" / "apps"
    scalable.mkdir(parents=True)
    shutil.copy(ROOT / "resources" / "icons" / "lossviewer.svg", scalable / "lossviewer.svg")
    debian = stage / "DEBIAN"
    debian.mkdir()
    size_kb = sum(f.stat().st_size for f in stage.rglob("*") if f.is_file()) // 1024
    (debian / "control").write_text(
        f"Package: lossviewer\nVersion: {ver}\nArchitecture: amd64\n"
        "Maintainer: LossViewer developers <lossviewer@example.org>\n"
        f"Installed-Size: {size_kb}\nDepends: {DEB_DEPENDS}\nRecommends: {DEB_RECOMMENDS}\n"
        "Section: science\nPriority: optional\nHomepage: https://example.org/lossviewer\n"
        "Description: explore loss surfaces and the optimizers that walk on them\n"
        " A 3D landscape beside its contour map, with optimizers (SGD, momentum,\n"
        " Adam, ...) racing downhill; typed formulas, neural-network landscapes,\n"
        " sessions, GIF export and a presentation mode. Bundles its own Python and Qt.\n")
    for script, body in (("postinst", "update-desktop-database -q || true\n"
                                      "gtk-update-icon-cache -q /usr/share/icons/hicolor "
                                      "|| true\n"),
                         ("postrm", "update-desktop-database -q || true\n")):
        path = debian / script
        path.write_text("#!/bin/sh\nset -e\n" + body)
        path.chmod(0o755)
    out = DIST / f"lossviewer_{ver}_amd64.deb"
    log(f"dpkg-deb {out.name}")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(stage), str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return out


# -- smoke tests ----------------------------------------------------------------------------


def _display_prefix() -> list[str]:
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return []
    if shutil.which("xvfb-run") is None:
        raise SystemExit("build: no display and no xvfb-run for the smoke tests "
                         "(apt-get install xvfb xauth), or pass --no-smoke")
    return ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24 +extension GLX"]


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "QT_", "PYOPENGL"))}
    env["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="lossviewer-build-config-")
    env.update(extra or {})
    return env


def smoke(label: str, command: list[str], extra_env: dict[str, str] | None = None) -> bool:
    proc = subprocess.run(_display_prefix() + command, capture_output=True, text=True,
                          env=_child_env(extra_env), timeout=300)
    ok = proc.returncode == 0
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    log(f"smoke test {label}: {'passed' if ok else 'FAILED'} ({last})")
    if not ok:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
    return ok


def start_times(exe: Path, runs: int = 3) -> list[float]:
    times = []
    for _ in range(runs):
        proc = subprocess.run(_display_prefix() + [str(exe), "--startup-probe"],
                              capture_output=True, text=True, env=_child_env(), timeout=300)
        try:
            t = json.loads(proc.stdout.strip().splitlines()[-1])["first_frame_s"]
        except (IndexError, ValueError, KeyError, TypeError):
            t = None
        if proc.returncode != 0 or t is None:
            log(f"start-up probe failed: {proc.stderr.strip()[-500:]}")
            continue
        times.append(float(t))
    return times


def smoke_tests(bundle: Path, deb: Path) -> bool:
    exe = bundle / "lossviewer"
    ok = smoke("bundle", [str(exe), "--smoke-test"])
    ok &= smoke("bundle, XDG_SESSION_TYPE=wayland", [str(exe), "--smoke-test"],
                {"XDG_SESSION_TYPE": "wayland"})
    with tempfile.TemporaryDirectory(prefix="lossviewer-deb-") as root:
        subprocess.run(["dpkg", "-x", str(deb), root], check=True)
        launcher = Path(root) / "usr" / "bin" / "lossviewer"
        ok &= smoke(".deb launcher (dpkg -x)", [str(launcher), "--smoke-test"])
        desktop = Path(root) / "usr" / "share" / "applications" / "lossviewer.desktop"
        icon = Path(root) / "usr" / "share" / "icons" / "hicolor" / "256x256" / "apps"
        if not desktop.is_file() or not (icon / "lossviewer.png").is_file():
            log("smoke test .deb contents: FAILED (desktop entry or icon missing)")
            ok = False
    return ok


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not
               f.is_symlink()) / 2**20


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--no-smoke", action="store_true", help="build only")
    p.add_argument("--skip-pyinstaller", action="store_true",
                   help="reuse dist/lossviewer (repack and test only)")
    ns = p.parse_args(argv)
    if platform.system() != "Linux":
        log("this script builds the Linux artefacts; see packaging/windows and "
            "packaging/macos for the other platforms")
        return 2
    ver = version()
    DIST.mkdir(exist_ok=True)
    bundle = DIST / "lossviewer" if ns.skip_pyinstaller else run_pyinstaller()
    tarball = make_tarball(bundle, ver)
    deb = make_deb(bundle, ver)
    report = {"version": ver, "bundle_mb": round(folder_mb(bundle), 1),
              "tar_gz_mb": round(tarball.stat().st_size / 2**20, 1),
              "deb_mb": round(deb.stat().st_size / 2**20, 1)}
    ok = True
    if not ns.no_smoke:
        ok = smoke_tests(bundle, deb)
        times = start_times(bundle / "lossviewer")
        report["cold_start_s"] = round(statistics.median(times), 2) if times else None
        report["cold_start_runs_s"] = [round(t, 2) for t in times]
        ok &= bool(times)
    log(f"bundle {report['bundle_mb']} MB unpacked (budget ≤ {BUNDLE_BUDGET_MB} MB), "
        f".tar.gz {report['tar_gz_mb']} MB (≤ {TARBALL_BUDGET_MB} MB), "
        f".deb {report['deb_mb']} MB"
        + (f", cold start to first frame {report.get('cold_start_s')} s "
           f"(≤ {START_BUDGET_S} s; runs {report.get('cold_start_runs_s')})"
           if not ns.no_smoke else ""))
    (DIST / "build-report.json").write_text(json.dumps(report, indent=1))
    log(f"artefacts in {DIST}: {bundle.name}/, {tarball.name}, {deb.name}"
        + ("" if ok else " — SMOKE TESTS FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
