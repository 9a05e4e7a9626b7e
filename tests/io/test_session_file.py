"""The session container: atomic writes, version checks, and a corpus of broken files."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile

import pytest

from lossviewer.io.session_file import (
    MAX_STATE_BYTES,
    SESSION_VERSION,
    SessionError,
    read_session,
    save_session,
)

STATE = {"landscape": {"function": "himmelblau"}, "runs": [], "network": None}


def _zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _doc(**changes) -> bytes:
    doc = {"format": "lossviewer-session", "version": SESSION_VERSION, **STATE, **changes}
    return json.dumps(doc).encode()


def test_round_trip_with_a_network_member(tmp_path):
    p = tmp_path / "a.lvs"
    payload = os.urandom(100_000)
    save_session(p, {**STATE, "network": {"kind": "computed"}}, payload)
    sf = read_session(p)
    assert sf.state["landscape"] == {"function": "himmelblau"}
    assert sf.state["format"] == "lossviewer-session" and sf.version == SESSION_VERSION
    assert sf.network == payload
    save_session(p, STATE)  # overwrite in place
    assert read_session(p).network is None
    assert [f for f in os.listdir(tmp_path)] == ["a.lvs"]  # no temporary left behind


def test_nan_is_never_written(tmp_path):
    with pytest.raises(ValueError):
        save_session(tmp_path / "n.lvs", {**STATE, "x": float("nan")})
    assert not (tmp_path / "n.lvs").exists()


def _deep() -> bytes:
    head = b'{"format": "lossviewer-session", "version": 1, "x": '
    return head + b"[" * 200_000 + b"]" * 200_000 + b"}"


BROKEN = {
    "empty": (lambda p: p.write_bytes(b""), "not a zip archive"),
    "random bytes": (lambda p: p.write_bytes(os.urandom(4096)), "not a zip archive"),
    "truncated": (lambda p: p.write_bytes(_good_bytes()[:300]), "not a zip|damaged"),
    "no session.json": (lambda p: _zip(p, {"other.txt": b"hi"}), "no session.json"),
    "not json": (lambda p: _zip(p, {"session.json": b"{landscape:"}), "damaged"),
    "not utf-8": (lambda p: _zip(p, {"session.json": b"\xff\xfe\x00"}), "not UTF-8"),
    "a list": (lambda p: _zip(p, {"session.json": b"[1, 2]"}), "not an object"),
    "deep nesting": (lambda p: _zip(p, {"session.json": _deep()}), "nested too deeply|damaged"),
    "huge integer": (lambda p: _zip(p, {"session.json": b'{"version": ' + b"9" * 5000 + b"}"}),
                     "damaged"),
    "future version": (lambda p: _zip(p, {"session.json": _doc(version=SESSION_VERSION + 1,
                                                               app="9.0")}),
                       "saved by LossViewer 9.0.*Update LossViewer"),
    "version as text": (lambda p: _zip(p, {"session.json": _doc(version="1")}), "version"),
    "version zero": (lambda p: _zip(p, {"session.json": _doc(version=0)}), "unknown session"),
    "other format": (lambda p: _zip(p, {"session.json": _doc(format="x")}), "not a LossViewer"),
    "network missing": (lambda p: _zip(p, {"session.json": _doc(network={"kind": "computed"})}),
                        "network landscape.*missing"),
    "oversized state": (lambda p: _zip(p, {"session.json": b" " * (MAX_STATE_BYTES + 1)}),
                        "more than a session holds"),
}


def _good_bytes() -> bytes:
    buf = io.BytesIO()
    _zip(buf, {"session.json": _doc(), "padding.bin": os.urandom(2000)})
    return buf.getvalue()


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_files_give_a_clear_message(tmp_path, name):
    make, message = BROKEN[name]
    p = tmp_path / "broken.lvs"
    make(p)
    with pytest.raises(SessionError, match=message) as info:
        read_session(p)
    assert "broken.lvs" in str(info.value) and "\n" not in str(info.value)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        read_session(tmp_path / "nope.lvs")


KILLED_SAVER = textwrap.dedent("""
    import os, sys, time
    from lossviewer.io import session_file
    real_fsync = os.fsync
    def stall(fd):
        # the new session is written to its temporary file, not yet renamed over the old
        print("writing", flush=True)
        time.sleep(60)
    os.fsync = stall
    session_file.save_session(sys.argv[1], {"landscape": {"function": "rastrigin"},
                                            "network": {"kind": "computed"}},
                              os.urandom(5_000_000))
""")


def test_a_kill_during_save_leaves_the_old_file_intact(tmp_path):
    p = tmp_path / "work.lvs"
    save_session(p, STATE)
    before = p.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVER, str(p)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        # the temporary file next to it is already being written
        assert any(f.endswith(".tmp") for f in os.listdir(tmp_path))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert p.read_bytes() == before
    assert read_session(p).state["landscape"] == {"function": "himmelblau"}
