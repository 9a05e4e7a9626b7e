"""Qt-free numerics: landscapes, optimizers, schedules, trajectories, grids."""
