"""The only package that imports Qt, pyqtgraph and OpenGL."""
