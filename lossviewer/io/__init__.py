"""Qt-free file formats."""
