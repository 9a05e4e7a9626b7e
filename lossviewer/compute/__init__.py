"""Qt-free jobs: frozen requests in, generators yielding progress, results out."""
