"""PlaybackDock: play/pause, step, speed, scrub, loop and trail length."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from lossviewer.scene.scene import Scene
from lossviewer.ui.docks.scene_dock import SceneDock
from lossviewer.ui.widgets import SliderField


class PlaybackDock(SceneDock):
    def __init__(self, scene: Scene, report_error: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__("Playback", scene, report_error, parent)
        body = QWidget()
        outer = QVBoxLayout(body)
        row = QHBoxLayout()
        style = self.style()
        sp = QStyle.StandardPixmap
        self.rewind = QPushButton(style.standardIcon(sp.SP_MediaSkipBackward), "")
        self.rewind.setToolTip("Back to the start (Home)")
        self.back = QPushButton(style.standardIcon(sp.SP_MediaSeekBackward), "")
        self.back.setToolTip("One step back (Left)")
        self.play = QPushButton()
        self.play.setToolTip("Play / pause (Space)")
        self.forward = QPushButton(style.standardIcon(sp.SP_MediaSeekForward), "")
        self.forward.setToolTip("One step forward (Right)")
        self.end = QPushButton(style.standardIcon(sp.SP_MediaSkipForward), "")
        self.end.setToolTip("Jump to the end (End)")
        for b in (self.rewind, self.back, self.play, self.forward, self.end):
            row.addWidget(b)
        outer.addLayout(row)
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setToolTip("Scrub through the steps")
        self.frame_label = QLabel()
        srow = QHBoxLayout()
        srow.addWidget(self.scrub, 1)
        srow.addWidget(self.frame_label)
        outer.addLayout(srow)
        self.speed = SliderField(1.0, 5000.0, 120.0, log=True)
        self.speed.setToolTip("Optimizer steps per second while playing")
        outer.addWidget(QLabel("Speed (steps/s)"))
        outer.addWidget(self.speed)
        opts = QHBoxLayout()
        self.loop = QCheckBox("Loop")
        self.loop.setToolTip("Start again after the last step")
        self.trail = QSpinBox()
        self.trail.setRange(0, 100_000)
        self.trail.setSingleStep(10)
        self.trail.setSpecialValueText("whole path")
        self.trail.setToolTip("How many steps of path to draw behind each marker (0: all)")
        opts.addWidget(self.loop)
        opts.addStretch(1)
        opts.addWidget(QLabel("Trail"))
        opts.addWidget(self.trail)
        outer.addLayout(opts)
        outer.addStretch(1)
        self.setWidget(body)

        self.play.clicked.connect(self.toggle_play)
        self.rewind.clicked.connect(lambda: self._set(frame=0))
        self.end.clicked.connect(lambda: self._set(frame=self.scene.max_steps, playing=False))
        self.back.clicked.connect(lambda: self.step(-1))
        self.forward.clicked.connect(lambda: self.step(1))
        self.scrub.valueChanged.connect(lambda v: self._set(frame=v))
        self.speed.valueChanged.connect(lambda v: self._set(speed=v))
        self.loop.toggled.connect(lambda b: self._set(loop=b))
        self.trail.valueChanged.connect(lambda v: self._set(trail=v))
        scene.playback_changed.connect(lambda _p: self.refresh())
        scene.runs_changed.connect(self.refresh)
        scene.run_changed.connect(lambda _rid: self.refresh())
        self.refresh()

    def toggle_play(self) -> None:
        pb = self.scene.playback
        if not pb.playing and pb.frame >= self.scene.max_steps:
            self._set(frame=0, playing=True)  # play again from the start
        else:
            self._set(playing=not pb.playing)

    def step(self, delta: int) -> None:
        self._set(frame=self.scene.playback.frame + delta, playing=False)

    def _set(self, **changes) -> None:
        self.apply(lambda: self.scene.set_playback(**changes))

    def refresh(self) -> None:
        with self.refreshing():
            pb = self.scene.playback
            icon = QStyle.StandardPixmap.SP_MediaPause if pb.playing else \
                QStyle.StandardPixmap.SP_MediaPlay
            self.play.setIcon(self.style().standardIcon(icon))
            self.scrub.setRange(0, self.scene.max_steps)
            self.scrub.setValue(pb.frame)
            self.frame_label.setText(f"{pb.frame} / {self.scene.max_steps}")
            self.speed.set_value(pb.speed)
            self.loop.setChecked(pb.loop)
            self.trail.setValue(pb.trail)
