"""GLLabelsItem: many text labels in a 3D view drawn with one QPainter.

pyqtgraph's GLTextItem opens a QPainter per label; on a software renderer each
painter costs milliseconds, so the axis labels are batched into one item.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyqtgraph.opengl import GLGraphicsItem
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QMatrix4x4, QPainter, QVector3D


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    z: float
    text: str
    bold: bool = False
    #: 'center' centres the text on the point; 'left' starts it there
    align: str = "center"


class GLLabelsItem(GLGraphicsItem.GLGraphicsItem):
    def __init__(self, font: QFont, bold_font: QFont, color: QColor) -> None:
        super().__init__()
        self._labels: list[Label] = []
        self._font, self._bold, self._color = font, bold_font, color
        self._metrics = {False: QFontMetricsF(font), True: QFontMetricsF(bold_font)}

    def set_fonts(self, font: QFont, bold_font: QFont) -> None:
        """Other fonts (presentation mode makes them larger)."""
        self._font, self._bold = font, bold_font
        self._metrics = {False: QFontMetricsF(font), True: QFontMetricsF(bold_font)}
        self.update()

    def set_color(self, color: QColor) -> None:
        self._color = color
        self.update()

    def set_labels(self, labels: list[Label]) -> None:
        self._labels = list(labels)
        self.update()

    def paint(self) -> None:
        if not self._labels:
            return
        self.setupGLState()
        rect = QRectF(self.view().rect())
        ndc_to_viewport = QMatrix4x4()
        ndc_to_viewport.viewport(rect.left(), rect.bottom(), rect.width(), -rect.height())
        project = ndc_to_viewport * self.mvpMatrix()
        painter = QPainter(self.view())
        painter.setPen(self._color)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing
                               | QPainter.RenderHint.TextAntialiasing)
        for bold in (False, True):
            painter.setFont(self._bold if bold else self._font)
            metrics = self._metrics[bold]
            for lab in self._labels:
                if lab.bold != bold:
                    continue
                p = project.map(QVector3D(lab.x, lab.y, lab.z)).toPointF()
                box = metrics.tightBoundingRect(lab.text)
                dx = box.width() / 2 if lab.align == "center" else 0.0
                painter.drawText(QPointF(p.x() - dx, p.y() + box.height() / 2), lab.text)
        painter.end()
