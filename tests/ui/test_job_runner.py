"""JobRunner: latest request wins, signals in order, errors reported, clean shutdown."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from lossviewer.compute.jobs import Partial, Progress


def slow_job(request):
    tag, n, delay = request
    for i in range(n):
        time.sleep(delay)
        yield Progress((i + 1) / n, f"{tag} {i}")
        yield Partial((tag, i))
    return tag


def failing_job(request):
    yield Progress(0.5, "half")
    raise RuntimeError(f"boom {request}")


def test_latest_request_wins(qtbot):
    from lossviewer.ui.job_runner import JobRunner

    runner = JobRunner("test")
    finished, partials = [], []
    runner.finished.connect(finished.append)
    runner.partial.connect(partials.append)
    runner.submit(slow_job, ("old", 50, 0.01))
    qtbot.wait(60)  # the old job has started and queued some signals
    runner.submit(slow_job, ("new", 3, 0.001))
    qtbot.waitUntil(lambda: bool(finished), timeout=5000)
    qtbot.wait(200)  # late signals of the cancelled job would arrive now
    assert finished == ["new"]
    news = [p for p in partials if p[0] == "new"]
    assert news == [("new", 0), ("new", 1), ("new", 2)], "partials arrive in order"
    assert all(p[0] == "new" for p in partials[partials.index(("new", 0)):])
    assert not runner.busy


def test_busy_and_finished_signal_order(qtbot):
    from lossviewer.ui.job_runner import JobRunner

    runner = JobRunner("order")
    events = []
    runner.busy_changed.connect(lambda b: events.append(("busy", b)))
    runner.partial.connect(lambda v: events.append(("partial", v[1])))
    runner.finished.connect(lambda v: events.append(("finished", v)))
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.submit(slow_job, ("x", 2, 0.0))
    assert events == [("busy", True), ("partial", 0), ("partial", 1), ("busy", False),
                      ("finished", "x")]


def test_errors_reach_the_user_even_runtime_errors(qtbot):
    from lossviewer.ui.job_runner import JobRunner

    runner = JobRunner("fail")
    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.submit(failing_job, 7)
    assert "boom 7" in blocker.args[0]
    assert not runner.busy


def test_cancel_drops_results(qtbot):
    from lossviewer.ui.job_runner import JobRunner

    runner = JobRunner("cancel")
    finished = []
    runner.finished.connect(finished.append)
    runner.submit(slow_job, ("c", 20, 0.01))
    qtbot.wait(30)
    runner.cancel()
    assert not runner.busy
    qtbot.wait(400)
    assert finished == []


@pytest.mark.gl
def test_closing_while_computing_exits_cleanly(tmp_path):
    """Close the window while a big surface computes: exit 0, fast, no QThread abort."""
    script = textwrap.dedent("""
        import sys, time
        from lossviewer.app import create_application
        app = create_application()
        from PySide6.QtCore import QTimer
        from lossviewer.ui.main_window import MainWindow
        w = MainWindow()
        w.session.confirm_discard = lambda: "discard"  # the question on close: Discard
        w.show()
        w.scene.set_landscape(resolution=2048)
        def close():
            assert w.surface_runner.busy or w._surface_timer.isActive(), "job not running"
            global t0
            t0 = time.perf_counter()
            w.close()
        QTimer.singleShot(600, close)
        rc = app.exec()
        print(f"CLOSE_TO_EXIT {time.perf_counter() - t0:.3f}")
        sys.exit(rc)
    """)
    path = tmp_path / "close_while_busy.py"
    path.write_text(script)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr, proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("CLOSE_TO_EXIT")][0]
    assert float(line.split()[1]) < 1.0, line
    assert time.perf_counter() - t < 60
