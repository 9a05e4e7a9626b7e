"""GuiThreadGarbageCollector: Python's cycle collector runs on the GUI thread only.

Left automatic, the collector runs in whichever thread happens to allocate, so
a worker thread can end up destroying Qt objects that sat in reference cycles
(replaced pyqtgraph items, closed windows). ~QObject on a worker takes Qt's
connection lock and then waits for the GIL, while the GUI thread holds the GIL
and waits for that lock: the process hangs (seen in the UI test suite, with a
py-spy trace of exactly this). So automatic collection is switched off and the
GUI thread collects on a timer, a generation at a time as the thresholds say
(pyqtgraph's GarbageCollector does the same).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

#: how often the GUI thread looks at the collector's counts
INTERVAL_MS = 500


class GuiThreadGarbageCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect)
        self.timer.start(interval_ms)

    def collect(self) -> None:
        """Collect the generations whose allocation counts passed their thresholds."""
        c0, c1, c2 = gc.get_count()
        if c0 > self.threshold[0]:
            generation = 0
            if c1 > self.threshold[1]:
                generation = 2 if c2 > self.threshold[2] else 1
            gc.collect(generation)
